"""The rank side of the launcher: rendezvous, events to the parent, progress counters.

Any worker module (the comm benchmark, the DDP benchmark) uses the same four pieces:

    ctx = init_distributed("gloo", timeout_s=60)   # RANK/WORLD_SIZE/... from the launcher or torchrun
    emit({"ev": "row", ...})                       # one JSON line on stdout, read by the parent
    progress.enter(); <collective>; progress.done() # per-call counters the parent polls for hangs
    worker_main(main)                              # errors -> one event + exit 1, never a hang

Rendezvous binds where it is told: under `rax` the launcher sets MASTER_ADDR (127.0.0.1
locally, the namespace address when emulated) and MASTER_PORT=0; rank 0 binds a socket
there, hands it to the c10d TCPStore (`master_listen_fd`; without it the store listens
on every interface) and reports the ephemeral port. Under torchrun the standard env://
init is used (the workers join the agent's store), so torchrun's options apply unchanged;
when the agent shares no store (TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1, as `rax launch`
sets it) rank 0 hosts the process-group store bound to MASTER_ADDR in the same way.
Under torchrun every node's fingerprint is gathered once (`nodes.gather_nodes`): each
node's local rank 0 reports {"ev": "joined"} and rank 0 {"ev": "fingerprints"}.
"""

from __future__ import annotations

import ctypes
import datetime
import faulthandler
import json
import math
import mmap
import os
import signal
import socket
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable

MARK = "@rax "  # prefix of protocol lines on a rank's stdout
PROGRESS_ENV = "RAX_PROGRESS"  # file of per-rank call counters
LAUNCH_ENV = "RAX_LAUNCH"  # set by the rax launcher (absent under torchrun)
SLOT = 32  # bytes per rank: entered calls, finished calls, pid, spare (int64 each)
_LISTENERS: list[socket.socket] = []


def _finite(obj: Any) -> Any:
    """JSON has no NaN/inf: send them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def emit(event: dict) -> None:
    """Write one protocol line; a single write() keeps lines from several ranks whole."""
    event = {"rank": int(os.environ.get("RANK", "-1")), **event}
    data = (MARK + json.dumps(_finite(event), allow_nan=False, default=str) + "\n").encode()
    os.write(sys.stdout.fileno(), data)


class Progress:
    """Per-call counters in a shared file: cheap (a memory store) and readable by the parent."""

    def __init__(self, rank: int, path: str | None = None):
        path = path if path is not None else os.environ.get(PROGRESS_ENV)
        self.mm = self._open(path, rank) if path else None
        self.off = rank * SLOT
        self.entered = self.finished = 0
        if self.mm is not None:
            self._put(16, os.getpid())

    @staticmethod
    def _open(path: str, rank: int):
        fd = os.open(path, os.O_RDWR)
        try:
            return mmap.mmap(fd, (rank + 1) * SLOT)
        finally:
            os.close(fd)

    def _put(self, at: int, value: int) -> None:
        self.mm[self.off + at:self.off + at + 8] = value.to_bytes(8, "little", signed=True)

    def enter(self) -> None:
        self.entered += 1
        if self.mm is not None:
            self._put(0, self.entered)

    def done(self) -> None:
        self.finished += 1
        if self.mm is not None:
            self._put(8, self.finished)


@dataclass
class RankContext:
    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: Any  # torch.device
    torchrun: bool
    progress: Progress
    nodes: list | None = None  # under torchrun: every node's {role, fingerprint}, node rank order

    @property
    def is_root(self) -> bool:
        return self.rank == 0


def die_with_parent() -> None:
    """prctl(PR_SET_PDEATHSIG, SIGKILL): a rank never outlives its launcher."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _env_int(name: str) -> int:
    from raxlab.errors import RaxError

    try:
        return int(os.environ[name])
    except (KeyError, ValueError) as exc:
        raise RaxError(f"{name} must be set to an integer (run under `rax` or torchrun)") from exc


def _bound_store(rank: int, world: int, timeout: datetime.timedelta, announce: bool = True):
    import torch.distributed as dist

    addr, port = os.environ.get("MASTER_ADDR", "127.0.0.1"), int(os.environ.get("MASTER_PORT", "0"))
    if rank != 0:
        return dist.TCPStore(addr, port, world, False, timeout=timeout)
    sock = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((addr, port))
    sock.listen(max(128, world))
    store = dist.TCPStore(addr, sock.getsockname()[1], world, True, timeout=timeout,
                          wait_for_workers=False, master_listen_fd=sock.fileno(), use_libuv=True)
    _LISTENERS.append(sock)  # the store serves on this fd: keep the socket object (and fd) alive
    if announce:
        emit({"ev": "port", "port": sock.getsockname()[1]})
    return store


def env_from_slurm() -> None:
    """Plain `srun python -m ...`: take the rank variables from Slurm (MASTER_ADDR/PORT from the user)."""
    if "RANK" not in os.environ and "SLURM_PROCID" in os.environ:
        os.environ.update({"RANK": os.environ["SLURM_PROCID"], "WORLD_SIZE": os.environ.get("SLURM_NTASKS", "1"),
                           "LOCAL_RANK": os.environ.get("SLURM_LOCALID", "0")})


def init_distributed(backend: str, timeout_s: float) -> RankContext:
    """Join the process group described by the environment (rax launcher, torchrun or srun)."""
    import torch
    import torch.distributed as dist

    env_from_slurm()
    rank, world = _env_int("RANK"), _env_int("WORLD_SIZE")
    local = int(os.environ.get("LOCAL_RANK", rank))
    torchrun = LAUNCH_ENV not in os.environ
    # Under rax the parent watches progress and names a hung rank after timeout_s, so
    # the process group's own timeout (which cannot tell who hung) is only a backstop.
    timeout = datetime.timedelta(seconds=timeout_s if torchrun else 2 * timeout_s + 10)
    device = torch.device("cpu")
    kwargs: dict = {}
    if backend == "nccl":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        kwargs["device_id"] = device  # eager init: NCCL logs its transport before the first op
    # torchrun sets TORCHELASTIC_USE_AGENT_STORE=False when its agent shares no store; env://
    # would then have rank 0 listen on every interface.
    if torchrun and os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "False":
        dist.init_process_group(backend, init_method="env://", timeout=timeout, **kwargs)
    else:
        store = _bound_store(rank, world, timeout, announce=not torchrun)
        dist.init_process_group(backend, store=store, rank=rank, world_size=world, timeout=timeout, **kwargs)
    ctx = RankContext(rank, world, local, backend, device, torchrun, Progress(rank))
    if torchrun:
        _report_nodes(ctx)
    return ctx


def _report_nodes(ctx: RankContext) -> None:
    from raxlab.measure.comm.nodes import gather_nodes

    ctx.nodes = gather_nodes(ctx.world_size)
    if ctx.local_rank == 0:  # this node is in: the launcher's rendezvous deadline is met
        emit({"ev": "joined", "node_rank": int(os.environ.get("GROUP_RANK", "0"))})
    if ctx.is_root:
        emit({"ev": "fingerprints", "items": ctx.nodes})


def worker_main(main: Callable[[], None]) -> None:
    """Run a worker's `main`; any failure becomes one error event and exit code 1, success ends
    with `teardown` (exit code 0). A worker never returns into interpreter finalization."""
    die_with_parent()
    faulthandler.enable(all_threads=True)  # a C++ abort still prints where every Python thread was
    rank = int(os.environ.get("RANK", "-1"))
    try:
        main()
    except KeyboardInterrupt:
        os._exit(130)
    except BaseException as exc:  # report everything: the parent names the rank and the op
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:1000]
        if type(exc).__name__ == "RaxError":
            msg = " ".join(str(exc).split())[:1000]
        traceback.print_exc(file=sys.stderr)
        emit({"ev": "error", "rank": rank, "message": msg})
        sys.stderr.flush()
        os._exit(1)  # skip interpreter teardown: it can hang on a broken process group
    teardown()


# Native threads that torch and gloo name (c10::setThreadName): the process group's workers, its
# TCP loop, the store server, NCCL's watchdog and heartbeat monitor.
BACKEND_THREADS = ("pt_gloo", "gloo_", "pt_tcpstore", "pt_nccl")


def backend_threads() -> list[str]:
    """Names of this process's live backend threads (Linux: /proc/self/task/*/comm)."""
    names = []
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        if name.startswith(BACKEND_THREADS):
            names.append(name)
    return sorted(names)


def teardown() -> None:
    """End a rank whose results are all out, in an order that cannot abort.

    Interpreter finalization (and the C++ static destructors after it) must not run beside live
    backend threads: CPython 3.11 ends a native thread that takes the GIL during finalization
    with pthread_exit, whose forced unwind through a noexcept C++ frame is `std::terminate`
    ("terminate called without an active exception", SIGABRT; pytorch/pytorch#179291 describes
    it for gloo's worker threads), and destructors of objects such threads still use race them
    (in this torch build gloo's tcp::Loop destructor calls std::terminate when its thread is still
    joinable, which its shutdown leaves so once another caller has begun it). Issue 20: 1 in 25 emulated DDP runs aborted so at the end. And the threads
    cannot be stopped from here: after `destroy_process_group` and a full garbage collection the
    gloo group's workers, its TCP loop and rank 0's store server are still running (the C++ side
    keeps the group; gloo has no shutdown), which every rank reports as `threads_left`.
    So: a last barrier (no collective in flight on any rank, and no peer still needs this rank's
    store), the group destroyed (NCCL's shutdown happens here), stdio flushed, then `os._exit`,
    which runs no finalizer and no static destructor: the kernel ends the threads."""
    import torch.distributed as dist

    if dist.is_initialized():
        _last_barrier(dist)
        dist.destroy_process_group()
    emit({"ev": "teardown", "threads_left": backend_threads()})
    sys.stdout.flush()
    sys.stderr.flush()
    _flush_c_stdio()  # what C++ libraries printed (NCCL, gloo) is not lost to _exit
    os._exit(0)


def _flush_c_stdio() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


def _last_barrier(dist) -> None:
    if dist.get_backend() == "nccl":
        import torch

        dist.barrier(device_ids=[torch.cuda.current_device()])
    else:
        dist.barrier()
