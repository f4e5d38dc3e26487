"""`rax doctor`: what this machine can measure, what it cannot, and why.

`diagnose(store_path, chromium)` returns the software versions, the machine facts of
`machine.py` (the same ones every measurement's fingerprint records) and one verdict per kind of
measurement: {"what", "can", "why"}.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from raxlab.measure import machine

NETWORK_FS = ("nfs", "nfs4", "cifs", "smb3", "fuse.sshfs", "9p")  # SQLite locking is unreliable there
LOW_SPACE_BYTES = 2 * 2**30


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def software() -> dict:
    import torch
    import torch.distributed as dist

    cuda = torch.cuda.is_available()
    nccl = None
    if cuda and dist.is_nccl_available():
        nccl = ".".join(map(str, torch.cuda.nccl.version()))
    return {"python": sys.version.split()[0], "os": f"{platform.system()} {platform.release()}",
            "raxlab": _version("raxlab"), "torch": torch.__version__, "torch_cuda_build": torch.version.cuda,
            "torch_hip_build": getattr(torch.version, "hip", None), "cuda_available": cuda,
            "cuda_devices": torch.cuda.device_count() if cuda else 0, "nccl": nccl,
            "nccl_in_torch": dist.is_available() and dist.is_nccl_available(),
            "gloo_in_torch": dist.is_available() and dist.is_gloo_available(),
            "transformers": _version("transformers"), "tokenizers": _version("tokenizers"),
            "pynvml": _version("nvidia-ml-py") or _version("pynvml")}


def diagnose(store_path: str, chromium: str | None) -> dict:
    sw, gpus = software(), machine.gpus()
    rdma, nics, emu, fs = machine.rdma_ports(), machine.nics(), machine.emulation(), machine.filesystem(store_path)
    from raxlab.measure.fingerprint import cpu_info, memory_bytes

    facts = {"software": sw, "cpu": cpu_info(), "mem_bytes": memory_bytes(), "gpus": gpus, "rdma": rdma,
             "nics": nics, "emulation": emu, "store": fs, "chromium": chromium}
    return {**facts, "verdicts": verdicts(facts)}


def verdicts(f: dict) -> list[dict]:
    """One line per kind of measurement: can it run here, and why (not)."""
    sw, cpu = f["software"], f["cpu"]
    out = [_v("compute step and kernels on the CPU", True,
              f"{cpu.get('usable_cores')} usable cores of {cpu.get('model')}")]
    out.append(_gpu_verdict(sw, f["gpus"]))
    out.append(_v("collectives over gloo (TCP; the plain-Ethernet baseline)", bool(sw["gloo_in_torch"]),
                  "torch.distributed has gloo" if sw["gloo_in_torch"] else "this torch build has no gloo"))
    out.append(_nccl_verdict(sw))
    out += _fabric_verdicts(f["rdma"], f["nics"])
    emu = f["emulation"]
    out.append(_v("emulated fabrics (--emulate: network namespaces, veth, tc tbf)", emu["possible"],
                  "root, ip and tc are there" if emu["possible"] else f"needs {', '.join(emu['missing'])}"))
    out.append(_v("PDF reports (headless Chromium)", bool(f["chromium"]),
                  f["chromium"] or "no Chromium found ($RAX_CHROMIUM, /usr/bin/chromium, PATH): "
                                   "sh scripts/ensure_chromium.sh, or apt-get install chromium"))
    out.append(_store_verdict(f["store"]))
    return out


def _v(what: str, can: bool, why: str) -> dict:
    return {"what": what, "can": bool(can), "why": why}


def _gpu_verdict(sw: dict, gpus: dict) -> dict:
    if sw["cuda_available"]:
        names = sorted({d["name"] for d in gpus.get("devices") or []}) or [f"{sw['cuda_devices']} CUDA device(s)"]
        return _v("compute, kernels and memory on GPUs", True, ", ".join(names))
    if sw["torch_cuda_build"] is None and sw["torch_hip_build"] is None:
        why = f"torch {sw['torch']} is a CPU-only build (no CUDA); on a GPU host install a CUDA wheel (TORCH_SPEC=torch)"
    else:
        why = f"torch has CUDA {sw['torch_cuda_build']} but sees no GPU; {gpus.get('why') or 'driver tools see GPUs'}"
    return _v("compute, kernels and memory on GPUs", False, why)


def _nccl_verdict(sw: dict) -> dict:
    if sw["nccl"]:
        return _v("collectives over NCCL", True, f"NCCL {sw['nccl']}")
    why = "no GPU visible to torch" if not sw["cuda_available"] else "this torch build has no NCCL"
    return _v("collectives over NCCL", False, why)


def _fabric_verdicts(rdma: list[dict], nics: list[dict]) -> list[dict]:
    active = [p for p in rdma if p["state"] and "ACTIVE" in p["state"]]
    ib = [p for p in active if p["kind"] == "ib"]
    roce = [p for p in active if p["kind"] == "roce"]
    def ports(ps):
        return ", ".join(f"{p['device']}/{p['port']} {p['rate']}" for p in ps)
    none = "no RDMA device in /sys/class/infiniband" if not rdma else "RDMA ports present but none ACTIVE: " + ports(rdma)
    fast = [n for n in nics if not n["virtual"] and n["speed_mbit_s"]]
    eth = ", ".join(f"{n['name']} {n['speed_mbit_s'] / 1000:g} Gb/s" for n in fast)
    return [_v("InfiniBand between nodes (NCCL_NET=IB)", bool(ib), ports(ib) if ib else none),
            _v("RoCE between nodes (NCCL over RDMA on Ethernet)", bool(roce), ports(roce) if roce else none),
            _v("TCP between nodes at a known link rate", bool(fast),
               eth or "no physical NIC reports a link rate in /sys/class/net/*/speed (virtual or unknown): "
                      "busbw over it cannot be judged against a line rate")]


def _store_verdict(fs: dict) -> dict:
    problems = []
    if fs["free_bytes"] is not None and fs["free_bytes"] < LOW_SPACE_BYTES:
        problems.append(f"only {fs['free_bytes'] / 2**30:.1f} GiB free")
    if fs["type"] in NETWORK_FS:
        problems.append(f"{fs['type']} file system: SQLite locking is unreliable there; use a local disk (--store)")
    if not fs["writable"]:
        problems.append("not writable")
    free = "N/A" if fs["free_bytes"] is None else f"{fs['free_bytes'] / 2**30:.1f} GiB free"
    return _v(f"results store {fs['path']}", not problems, "; ".join(problems) or f"{fs['type']}, {free}")
