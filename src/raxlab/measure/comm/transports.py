"""Transports as named arms, the environment that forces each, and their verification.

Arms (../shared/reference/measurement.md §2.1, §2.4, §4.1):
  gloo         torch gloo backend: TCP only, the honest "plain Ethernet" CPU baseline.
  nccl         NCCL's own choice (IB/RoCE if present, else sockets; P2P/SHM inside a node).
  nccl-ib      NCCL_NET=IB: IB verbs (InfiniBand or RoCE); fails rather than falls back.
  nccl-socket  NCCL_NET=Socket + NCCL_NET_PLUGIN=none: TCP; the plugin switch matters
               because NCCL_IB_DISABLE=1 alone does not stop external plugins (nccl-tests#373).
Interfaces: NCCL_SOCKET_IFNAME (bootstrap always, data for Socket) and GLOO_SOCKET_IFNAME.
The "=" prefix makes NCCL match the name exactly instead of as a prefix.
NCCL runs log at INFO (INIT,NET,ENV) to one file per rank; `verify` turns a log whose
transport differs from the arm's into a RaxError, so a wrong arm is never a result.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from raxlab.errors import RaxError, unknown_name
from raxlab.measure.comm.nccl_log import NcclTransport, parse


@dataclass(frozen=True)
class Arm:
    name: str
    backend: str  # gloo | nccl
    net: str | None  # NCCL_NET value the arm forces, None: NCCL chooses
    about: str


ARMS = {a.name: a for a in (
    Arm("gloo", "gloo", None, "torch gloo over TCP"),
    Arm("nccl", "nccl", None, "NCCL, transport of its choice"),
    Arm("nccl-ib", "nccl", "IB", "NCCL over IB verbs (InfiniBand or RoCE)"),
    Arm("nccl-socket", "nccl", "Socket", "NCCL over TCP sockets"),
)}
NCCL_LOG_ENV = "RAX_NCCL_LOG_DIR"  # the worker writes nccl.rank<r>.log here


def get_arm(name: str) -> Arm:
    if name not in ARMS:
        raise unknown_name("transport", name, list(ARMS), field="--transport")
    return ARMS[name]


def arm_env(arm: Arm, *, ifname: str | None = None, gid_index: int | None = None,
            log_dir: str | None = None, emulated: bool = False) -> dict[str, str]:
    """Environment variables every rank of this arm gets."""
    env: dict[str, str] = {}
    if ifname:
        env["GLOO_SOCKET_IFNAME"] = ifname
    if arm.backend != "nccl":
        if gid_index is not None:
            raise RaxError("--gid-index sets NCCL_IB_GID_INDEX and applies to the nccl arms only",
                           field="--gid-index")
        return env
    env.update({"NCCL_DEBUG": "INFO", "NCCL_DEBUG_SUBSYS": "INIT,NET,ENV"})
    if log_dir:
        env[NCCL_LOG_ENV] = log_dir
    if ifname:
        env["NCCL_SOCKET_IFNAME"] = "=" + ifname
    if arm.net:
        env.update({"NCCL_NET": arm.net, "NCCL_NET_PLUGIN": "none"})
    if gid_index is not None:
        env["NCCL_IB_GID_INDEX"] = str(gid_index)
    if emulated:
        # Namespaces isolate the network, not GPU peer access or /dev/shm: without this
        # NCCL would bypass the shaped links through P2P/SHM (§2.4 step 1).
        env.update({"NCCL_P2P_DISABLE": "1", "NCCL_SHM_DISABLE": "1"})
    return env


def apply_arm_env(arm: Arm, *, ifname: str | None = None, gid_index: int | None = None,
                  emulated: bool = False) -> str | None:
    """In a rank process: set the arm's variables in os.environ before the process group starts,
    and point NCCL's log at a per-rank file. Returns the NCCL log directory (None for gloo)."""
    log_dir = None
    if arm.backend == "nccl":
        log_dir = os.environ.get(NCCL_LOG_ENV) or tempfile.mkdtemp(prefix="rax-nccl-")
        os.makedirs(log_dir, exist_ok=True)
    os.environ.update(arm_env(arm, ifname=ifname, gid_index=gid_index, log_dir=log_dir, emulated=emulated))
    if log_dir:
        os.environ["NCCL_DEBUG_FILE"] = str(nccl_log_path(log_dir, int(os.environ.get("RANK", "0"))))
    return log_dir


def require_available(arm: Arm, local_ranks: int) -> None:
    """Fail early, in one line, when this machine cannot run the arm."""
    import torch
    import torch.distributed as dist

    if arm.backend == "gloo":
        if not dist.is_gloo_available():
            raise RaxError("this torch build has no gloo backend", field="--transport")
        return
    if not torch.cuda.is_available() or not dist.is_nccl_available():
        raise RaxError(f"{arm.name} needs CUDA GPUs and NCCL; torch {torch.__version__} here sees no CUDA "
                       "device (use --transport gloo on CPU)", field="--transport")
    if local_ranks > torch.cuda.device_count():
        raise RaxError(f"{local_ranks} local ranks need {local_ranks} GPUs; this machine has "
                       f"{torch.cuda.device_count()} (NCCL cannot put two ranks on one GPU)", field="--ranks")


def nccl_log_path(log_dir: str, rank: int) -> Path:
    return Path(log_dir) / f"nccl.rank{rank}.log"


def read_rank_log(log_dir: str | None, rank: int) -> NcclTransport | None:
    # Reading while NCCL runs is safe: NCCL opens NCCL_DEBUG_FILE line-buffered
    # (src/debug.cc `setlinebuf(file)`, unbuffered in 2.1x), so every line is on disk.
    if not log_dir:
        return None
    path = nccl_log_path(log_dir, rank)
    try:
        return parse(path.read_text(errors="replace"))
    except OSError:
        return None


def verify(arm: Arm, info: NcclTransport | None, world_size: int, *, final: bool) -> None:
    """RaxError when the log shows a transport other than the arm's.

    `final` is False while the run goes on (channel lines may not be written yet):
    only contradictions fail then; at the end the network must have been seen.
    """
    if arm.backend != "nccl":
        return
    if info is None or (info.version is None and info.network is None and not info.paths):
        if final:
            raise RaxError(f"{arm.name}: no NCCL_DEBUG=INFO output was captured, so the transport "
                           "cannot be verified", field="--transport")
        return
    if arm.net:
        _verify_forced(arm, info, world_size, final)


def _verify_forced(arm: Arm, info: NcclTransport, world_size: int, final: bool) -> None:
    if info.network and info.network.lower() != arm.net.lower():
        raise RaxError(f"{arm.name} asked for NCCL_NET={arm.net} but NCCL used network {info.network}",
                       field="--transport")
    wrong = sorted(p for p in info.net_paths if p.split("/")[1].lower() != arm.net.lower())
    if wrong:
        raise RaxError(f"{arm.name} asked for NET/{arm.net} but channels ran via {', '.join(wrong)}",
                       field="--transport")
    if final and world_size > 1 and not info.net_paths and info.intra_paths:
        raise RaxError(f"{arm.name}: every channel ran inside the node via "
                       f"{', '.join(sorted(info.intra_paths))}, so the network was not measured; put one "
                       "rank per node, or set NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1", field="--transport")


def describe_gloo(ifname: str | None) -> dict:
    """gloo has no log to parse: it is TCP by construction; record the interface and address."""
    addrs = []
    if ifname:
        try:
            import psutil

            addrs = [a.address for a in psutil.net_if_addrs().get(ifname, []) if a.family.name == "AF_INET"]
        except Exception:  # psutil is a record-keeping nicety here, never a failure
            addrs = []
    return {"backend": "gloo", "kind": "tcp", "ifname": ifname, "addrs": addrs}
