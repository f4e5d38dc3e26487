"""Device selection and precision support, shared by the compute and kernel benchmarks."""

from __future__ import annotations

from raxlab.errors import RaxError
from raxlab.measure.isolate import Unsupported

PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8")


def resolve_device(name: str | None) -> str:
    """'auto' → cuda when available else cpu; validates an explicit choice (cuda:N must exist)."""
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise RaxError("CUDA was asked for but torch sees no GPU (cpu build or no driver)", field="--device")
        index = name.partition(":")[2]
        if index and not (index.isdigit() and int(index) < torch.cuda.device_count()):
            raise RaxError(f"no GPU {name}: this machine has {torch.cuda.device_count()} "
                           f"(cuda:0..cuda:{torch.cuda.device_count() - 1})", field="--device")
        return name
    raise RaxError(f"unknown device {name!r}; allowed: auto, cpu, cuda, cuda:N", field="--device")


# Compute capability each precision needs natively (NVIDIA CUDA programming guide, feature tables):
# TF32 and bf16 tensor cores from Ampere (8.0); fp8 (e4m3/e5m2) tensor cores from Ada (8.9) and Hopper
# (9.0), which torch._scaled_mm requires. Below them torch would emulate bf16 (slowly) or refuse.
NEEDS_CC = {"tf32": (8, 0), "bf16": (8, 0), "fp8": (8, 9)}


def precision_problem(precision: str, capability: tuple[int, int] | None) -> str | None:
    """Why `precision` cannot run natively on a device (capability None: a CPU), or None."""
    if precision not in PRECISIONS:
        raise RaxError(f"unknown precision {precision!r}; allowed: {', '.join(PRECISIONS)}", field="precisions")
    if capability is None:
        return {"tf32": "TF32 is a tensor-core mode of NVIDIA GPUs (Ampere+); a CPU has none",
                "fp8": "fp8 matmuls (torch._scaled_mm) need an NVIDIA GPU with compute capability >= 8.9"}.get(precision)
    need = NEEDS_CC.get(precision)
    if need and tuple(capability) < need:
        cc = ".".join(map(str, capability))
        return {"tf32": f"TF32 needs compute capability >= 8.0 (Ampere); this GPU is {cc}",
                "bf16": f"no native bfloat16 below compute capability 8.0 (Ampere); this GPU is {cc} "
                        "and torch would emulate it, which measures nothing useful",
                "fp8": f"fp8 needs compute capability >= 8.9 (Ada/Hopper); this GPU is {cc}"}[precision]
    return None


def check_precision(precision: str, device: str) -> None:
    """Raise Unsupported (recorded as such, not fatal) when `device` cannot run `precision`."""
    import torch

    cap = torch.cuda.get_device_capability(device) if device.startswith("cuda") else None
    why = precision_problem(precision, cap)
    if why:
        raise Unsupported(why)


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
