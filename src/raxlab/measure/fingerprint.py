"""Hardware/software fingerprint attached to every result.

Says what a number was measured on: CPU, memory, GPUs, driver/CUDA/NCCL, library
versions, the precision flags that change results (TF32, reduced-precision
reductions) and a stable machine id (so results from one machine group together,
as pytest-benchmark's machine_info does).
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import sys
from pathlib import Path


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask: taskset, cgroups, Slurm), not all the host has."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def cpu_info() -> dict:
    info: dict = {"arch": platform.machine(), "logical_cores": os.cpu_count()}
    text = _read("/proc/cpuinfo")
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    info["model"] = fields.get("model name") or platform.processor() or "unknown"
    info["flags"] = sorted(set(fields.get("flags", "").split()) & {
        "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile", "asimd", "sve"})
    info["usable_cores"] = usable_cores()
    mhz = _read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").strip()
    info["max_mhz"] = int(mhz) / 1000 if mhz.isdigit() else _float(fields.get("cpu MHz"))
    try:
        import psutil

        info["physical_cores"] = psutil.cpu_count(logical=False)
    except Exception:  # psutil is optional here: the fingerprint must never fail
        info["physical_cores"] = None
    return info


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def memory_bytes() -> int | None:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def gpu_info() -> list[dict]:
    import torch

    if not torch.cuda.is_available():
        return []
    out = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        out.append({
            "index": i, "name": p.name, "mem_bytes": int(p.total_memory),
            "capability": f"{p.major}.{p.minor}", "sm_count": p.multi_processor_count,
        })
    return out


def torch_info() -> dict:
    import torch

    info = {
        "torch": torch.__version__, "cuda": torch.version.cuda, "hip": getattr(torch.version, "hip", None),
        "threads": torch.get_num_threads(),
        "flags": {
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "bf16_reduced_precision_reduction": torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction,
            "fp16_reduced_precision_reduction": torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
        },
    }
    if torch.cuda.is_available():
        info["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
        info["driver"] = _nvidia_driver()
    return info


def _nvidia_driver() -> str | None:
    text = _read("/proc/driver/nvidia/version")
    for tok in text.split():
        if tok.count(".") >= 1 and tok.replace(".", "").isdigit():
            return tok
    return None


def machine_id() -> str:
    """Stable id: /etc/machine-id when present, else hostname + CPU model (hashed)."""
    raw = _read("/etc/machine-id").strip() or _read("/var/lib/dbus/machine-id").strip()
    if not raw:
        raw = socket.gethostname() + cpu_info()["model"]
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def cpu_in_use(window_s: float = 0.2) -> float | None:
    """Cores kept busy by other work right now, sampled over `window_s` while we sleep.
    The load average lags by minutes (a finished `pip install` still counts); this does not."""
    import psutil

    try:
        return psutil.cpu_percent(interval=window_s) / 100.0 * (os.cpu_count() or 1)
    except (OSError, RuntimeError):
        return None


def busy_threshold(cores: int) -> float:
    """Cores of other work from which a run counts as busy: half a core on a small machine (one
    busy core of two halves what two ranks get), a tenth of the cores on a big one."""
    return max(0.5, 0.1 * cores)


def load() -> dict:
    """Other work on the cores when the measurement started: it inflates the noise."""
    cores = usable_cores()
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        one = five = None
    in_use = cpu_in_use()
    now = in_use if in_use is not None else one
    # other work on busy_threshold(cores) or more before we start: timings will be disturbed
    # (measure/busyness.py samples it through the run)
    return {"avg_1m": None if one is None else round(one, 2), "avg_5m": None if five is None else round(five, 2),
            "cores_in_use": None if in_use is None else round(in_use, 2), "cores": cores,
            "busy": None if now is None else now >= busy_threshold(cores)}


def fingerprint() -> dict:
    """Everything that says what a measurement ran on: the facts `rax doctor` shows (GPU clocks,
    power cap, ECC, MIG and topology; RDMA ports and NIC link rates: `machine.facts()`) included."""
    import numpy

    from raxlab.measure import machine

    return {
        "machine_id": machine_id(), "hostname": socket.gethostname(), "load": load(),
        "os": f"{platform.system()} {platform.release()}", "python": sys.version.split()[0],
        "numpy": numpy.__version__, "cpu": cpu_info(), "mem_bytes": memory_bytes(),
        "gpus": gpu_info(), **torch_info(), **machine.facts(),
    }
