"""Device selection and precision support, shared by the compute and kernel benchmarks."""

from __future__ import annotations

from raxlab.errors import RaxError
from raxlab.measure.isolate import Unsupported

PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8")


def resolve_device(name: str | None) -> str:
    """'auto' → cuda when available else cpu; validates an explicit choice."""
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RaxError("CUDA was asked for but torch sees no GPU (cpu build or no driver)", field="--device")
        return name
    raise RaxError(f"unknown device {name!r}; allowed: auto, cpu, cuda, cuda:N", field="--device")


def check_precision(precision: str, device: str) -> None:
    """Raise Unsupported (recorded as such, not fatal) when `device` cannot run `precision`."""
    import torch

    if precision not in PRECISIONS:
        raise RaxError(f"unknown precision {precision!r}; allowed: {', '.join(PRECISIONS)}", field="precisions")
    cuda = device.startswith("cuda")
    if precision == "tf32" and not cuda:
        raise Unsupported("TF32 is a tensor-core mode of NVIDIA GPUs (Ampere+); a CPU has none")
    if precision == "tf32" and torch.cuda.get_device_capability(device)[0] < 8:
        raise Unsupported("TF32 needs compute capability >= 8.0 (Ampere)")
    if precision == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise Unsupported("this GPU has no bfloat16 support")
    if precision == "fp8":
        if not cuda:
            raise Unsupported("fp8 matmuls (torch._scaled_mm) need an NVIDIA GPU with compute capability >= 8.9")
        if torch.cuda.get_device_capability(device) < (8, 9):
            raise Unsupported("fp8 needs compute capability >= 8.9 (Ada/Hopper)")


def dtype_of(precision: str):
    """Storage dtype of a precision (fp8 keeps bf16 masters; tf32 is fp32 storage)."""
    import torch

    return {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16,
            "fp16": torch.float16, "fp8": torch.float8_e4m3fn}[precision]


class tf32_mode:
    """Context: TF32 matmuls on for 'tf32', off (IEEE fp32) otherwise; restores the old flags."""

    def __init__(self, precision: str):
        self.on = precision == "tf32"

    def __enter__(self):
        import torch

        self.old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = self.on
        torch.backends.cudnn.allow_tf32 = self.on
        return self

    def __exit__(self, *exc):
        import torch

        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = self.old
        return False


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)
