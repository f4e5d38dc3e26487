"""What this machine has for measuring: GPUs (clocks, power cap, ECC, MIG, topology), RDMA
devices and NIC link rates, what network emulation needs, and the store's file system.

The one collector of these facts: `rax doctor` shows them, and every measurement's fingerprint
(`fingerprint.fingerprint()`) records the same ones. Nothing here imports torch, and nothing
fails: a fact that cannot be read is None with the reason beside it.

Sources, in order: NVML through `pynvml` (the nvidia-ml-py package) when installed, else
`nvidia-smi --query-gpu=... --format=csv,noheader,nounits` and `nvidia-smi topo -m`; RDMA ports from
`/sys/class/infiniband/<dev>/ports/<n>/{rate,state,link_layer}` (link layer Ethernet = RoCE);
Ethernet link rates from `/sys/class/net/<if>/speed` (Mb/s, -1 or unreadable when unknown).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SMI_FIELDS = ("index", "name", "uuid", "memory.total", "clocks.sm", "clocks.max.sm", "clocks.max.memory",
              "power.limit", "power.max_limit", "ecc.mode.current", "mig.mode.current", "pcie.link.gen.current",
              "pcie.link.width.current", "driver_version")
SMI_TIMEOUT_S = 10
SYS_IB, SYS_NET = Path("/sys/class/infiniband"), Path("/sys/class/net")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None


# ------------------------------------------------------------------ GPUs

def gpus() -> dict:
    """{"source": nvml | nvidia-smi | None, "devices": [...], "topology": ..., "why": reason when none}."""
    nvml_error = None
    try:
        return _nvml()
    except ImportError:
        pass
    except Exception as exc:  # NVML present but failing (no driver): say so, then try nvidia-smi
        nvml_error = f"NVML: {type(exc).__name__}: {exc}"
    smi = shutil.which("nvidia-smi")
    if smi is None:
        why = "no NVIDIA driver tools: pynvml (nvidia-ml-py) is not installed and nvidia-smi is not on PATH"
        if nvml_error:
            why = f"{nvml_error}; nvidia-smi is not on PATH"
        return {"source": None, "devices": [], "topology": None, "why": why}
    return _smi(smi)


def _nvml() -> dict:
    import pynvml as nv

    nv.nvmlInit()
    try:
        n = nv.nvmlDeviceGetCount()
        handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(n)]
        devices = [_nvml_device(nv, i, h) for i, h in enumerate(handles)]
        topo = [[_nvml_link(nv, a, b) for b in handles] for a in handles]
        return {"source": "nvml", "driver": _s(nv.nvmlSystemGetDriverVersion()), "devices": devices,
                "topology": {"matrix": topo, "legend": "X self, NV# NVLinks, PIX/PXB/PHB/NODE/SYS PCIe paths"}}
    finally:
        nv.nvmlShutdown()


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _try(fn, *args):
    try:
        return fn(*args)
    except Exception:  # NVML_ERROR_NOT_SUPPORTED and friends: unknown, not a failure
        return None


def _nvml_device(nv, i: int, h) -> dict:
    mem = _try(nv.nvmlDeviceGetMemoryInfo, h)
    ecc = _try(nv.nvmlDeviceGetEccMode, h)
    mig = _try(nv.nvmlDeviceGetMigMode, h)
    limit = _try(nv.nvmlDeviceGetEnforcedPowerLimit, h)
    return {"index": i, "name": _s(nv.nvmlDeviceGetName(h)), "uuid": _s(_try(nv.nvmlDeviceGetUUID, h) or ""),
            "mem_bytes": int(mem.total) if mem else None,
            "clocks_mhz": {"sm": _try(nv.nvmlDeviceGetClockInfo, h, nv.NVML_CLOCK_SM),
                           "sm_max": _try(nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_SM),
                           "mem_max": _try(nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_MEM)},
            "power_limit_w": limit / 1000 if limit else None,
            "ecc": None if ecc is None else ("enabled" if ecc[0] else "disabled"),
            "mig": None if mig is None else ("enabled" if mig[0] else "disabled"),
            "pcie": {"gen": _try(nv.nvmlDeviceGetCurrPcieLinkGeneration, h),
                     "width": _try(nv.nvmlDeviceGetCurrPcieLinkWidth, h)}}


def _nvml_link(nv, a, b) -> str:
    if a is b:
        return "X"
    links = 0
    for link in range(18):  # NVML_NVLINK_MAX_LINKS on Hopper
        state = _try(nv.nvmlDeviceGetNvLinkState, a, link)
        if state:
            peer = _try(nv.nvmlDeviceGetNvLinkRemotePciInfo_v2, a, link)
            mine = _try(nv.nvmlDeviceGetPciInfo_v3, b)
            if peer and mine and _s(peer.busId) == _s(mine.busId):
                links += 1
    if links:
        return f"NV{links}"
    level = _try(nv.nvmlDeviceGetTopologyCommonAncestor, a, b)
    names = {0: "X", 10: "PIX", 20: "PXB", 30: "PHB", 40: "NODE", 50: "SYS"}  # nvmlGpuTopologyLevel_t
    return names.get(level, "?") if level is not None else "?"


def _smi(exe: str) -> dict:
    q = [exe, f"--query-gpu={','.join(SMI_FIELDS)}", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(q, capture_output=True, text=True, timeout=SMI_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"source": "nvidia-smi", "devices": [], "topology": None, "why": f"nvidia-smi failed: {exc}"}
    if out.returncode != 0:
        why = (out.stderr or out.stdout).strip().splitlines()[:1] or [f"exit {out.returncode}"]
        return {"source": "nvidia-smi", "devices": [], "topology": None, "why": f"nvidia-smi: {why[0]}"}
    devices = parse_smi_csv(out.stdout)
    try:
        topo = subprocess.run([exe, "topo", "-m"], capture_output=True, text=True, timeout=SMI_TIMEOUT_S)
        matrix = parse_topo(topo.stdout) if topo.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        matrix = None
    driver = devices[0].pop("driver", None) if devices else None
    for d in devices[1:]:
        d.pop("driver", None)
    return {"source": "nvidia-smi", "driver": driver, "devices": devices, "topology": matrix}


def _smi_value(text: str):
    t = text.strip()
    if not t or t.strip("[]").upper() in ("N/A", "NOT SUPPORTED", "UNKNOWN ERROR"):
        return None
    try:
        return float(t) if "." in t else int(t)
    except ValueError:
        return t


def parse_smi_csv(text: str) -> list[dict]:
    """Rows of `nvidia-smi --query-gpu=SMI_FIELDS --format=csv,noheader,nounits`."""
    out = []
    for line in text.strip().splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(SMI_FIELDS):
            continue
        v = dict(zip(SMI_FIELDS, (_smi_value(c) for c in cells)))
        mem = v["memory.total"]
        out.append({"index": v["index"], "name": str(v["name"]), "uuid": v["uuid"],
                    "mem_bytes": int(mem) * 2**20 if isinstance(mem, (int, float)) else None,  # MiB
                    "clocks_mhz": {"sm": v["clocks.sm"], "sm_max": v["clocks.max.sm"],
                                   "mem_max": v["clocks.max.memory"]},
                    "power_limit_w": v["power.limit"], "power_max_w": v["power.max_limit"],
                    "ecc": str(v["ecc.mode.current"]).lower() if v["ecc.mode.current"] else None,
                    "mig": str(v["mig.mode.current"]).lower() if v["mig.mode.current"] else None,
                    "pcie": {"gen": v["pcie.link.gen.current"], "width": v["pcie.link.width.current"]},
                    "driver": v["driver_version"]})
    return out


def parse_topo(text: str) -> dict | None:
    """The GPU-to-GPU block of `nvidia-smi topo -m` (NV#, PIX, PXB, PHB, NODE, SYS; X = self)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return None
    head = lines[0].split()
    gpus_ = [h for h in head if h[3:].isdigit() and h.startswith("GPU")]
    matrix = []
    for ln in lines[1:]:
        cells = ln.split()
        if cells and cells[0] in gpus_:
            matrix.append(cells[1:1 + len(gpus_)])
    return {"matrix": matrix, "legend": "X self, NV# NVLinks, PIX/PXB/PHB/NODE/SYS PCIe paths"} if matrix else None


# ------------------------------------------------------------------ network

def rdma_ports() -> list[dict]:
    """InfiniBand / RoCE ports (link layer Ethernet = RoCE) with their rate and state."""
    if not SYS_IB.is_dir():
        return []
    out = []
    for dev in sorted(SYS_IB.iterdir()):
        for port in sorted((dev / "ports").glob("*")):
            layer = _read(port / "link_layer")
            out.append({"device": dev.name, "port": port.name, "rate": _read(port / "rate"),
                        "rate_gbit_s": _rate(_read(port / "rate")), "state": _read(port / "state"),
                        "link_layer": layer, "kind": "roce" if layer == "Ethernet" else "ib" if layer else None})
    return out


def _rate(text: str | None) -> float | None:
    """'400 Gb/sec (4X NDR)' -> 400.0."""
    try:
        return float(text.split()[0]) if text else None
    except ValueError:
        return None


def nics() -> list[dict]:
    """Network interfaces with their link rate (Mb/s from sysfs; None when the driver does not say)."""
    if not SYS_NET.is_dir():
        return []
    out = []
    for iface in sorted(SYS_NET.iterdir()):
        speed = _read(iface / "speed")
        mbit = int(speed) if speed and speed.lstrip("-").isdigit() and int(speed) > 0 else None
        out.append({"name": iface.name, "speed_mbit_s": mbit, "state": _read(iface / "operstate"),
                    "mtu": int(_read(iface / "mtu") or 0) or None, "virtual": not (iface / "device").exists()})
    return out


def emulation() -> dict:
    """What `--emulate` (network namespaces + veth + tc) needs: root, ip and tc."""
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    ip, tc = shutil.which("ip"), shutil.which("tc")
    missing = [w for w, ok in (("root", root), ("ip (iproute2)", ip), ("tc (iproute2)", tc)) if not ok]
    return {"root": root, "ip": ip, "tc": tc, "possible": not missing, "missing": missing}


# ------------------------------------------------------------------ store

def filesystem(path: str | os.PathLike) -> dict:
    """Free space and file-system type of the folder holding `path` (the results store)."""
    p = Path(path).expanduser()
    folder = next((q for q in (p, *p.parents) if q.exists()), Path("/"))
    try:
        usage = shutil.disk_usage(folder)
        free, total = usage.free, usage.total
    except OSError:
        free = total = None
    return {"path": str(p), "free_bytes": free, "total_bytes": total, "type": _fs_type(folder.resolve()),
            "writable": os.access(folder if folder.is_dir() else folder.parent, os.W_OK)}


def _fs_type(folder: Path) -> str | None:
    best, kind = "", None
    for line in (_read(Path("/proc/mounts")) or "").splitlines():
        parts = line.split()
        if len(parts) >= 3 and (str(folder) + "/").startswith(parts[1].rstrip("/") + "/") and len(parts[1]) >= len(best):
            best, kind = parts[1], parts[2]
    return kind


def facts() -> dict:
    """The machine facts every measurement's fingerprint records."""
    g = gpus()
    return {"gpu_source": g.get("source"), "gpu_details": g.get("devices"), "gpu_topology": g.get("topology"),
            "gpu_why": g.get("why"), "rdma": rdma_ports(), "nics": [n for n in nics() if n["name"] != "lo"]}
