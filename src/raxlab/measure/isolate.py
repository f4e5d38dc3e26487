"""Run one measurement point in a child process with a time limit.

A crash, an OOM kill or a hang then costs that point only: the parent records
the failure and the sweep goes on. Children come from a *forkserver* that has
imported torch once (fast starts, and no fork of a process whose OpenMP/CUDA
state is live). Each child asks the kernel to kill it if its parent dies, so a
`kill -9` of rax leaves no orphan burning CPU.

The point function must be a module-level callable (it is pickled by name) and
return a JSON-able dict. It signals expected outcomes by raising `Unsupported`
(precision or op the device cannot run), or a torch/Python out-of-memory error.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from raxlab.errors import RaxError

_CTX = None
_PRELOAD = ["torch", "raxlab.measure.isolate"]


class Unsupported(Exception):
    """The device cannot run this point (e.g. fp8 on CPU); the message says why."""


@dataclass
class Outcome:
    status: str  # ok | unsupported | oom | failed | timeout | killed
    value: Any = None
    error: str | None = None
    wall_s: float = 0.0
    exitcode: int | None = None
    point_id: int | None = None  # the store row, once `Session.record` has written it


def preload(*modules: str) -> None:
    """Modules the forkserver imports once, before the first child (e.g. transformers).

    Only effective before the first point runs; later calls are ignored."""
    for m in modules:
        if m not in _PRELOAD:
            _PRELOAD.append(m)


def _context():
    global _CTX
    if _CTX is None:
        _CTX = mp.get_context("forkserver")
        _CTX.set_forkserver_preload(list(_PRELOAD))
    return _CTX


def _die_with_parent() -> None:
    try:  # Linux prctl(PR_SET_PDEATHSIG, SIGKILL)
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _classify(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, Unsupported):
        return "unsupported"
    text = str(exc).lower()
    if isinstance(exc, MemoryError) or name == "OutOfMemoryError" or "out of memory" in text \
            or "can't allocate memory" in text:  # the CPU allocator's wording
        return "oom"
    return "failed"


def _child(conn, fn, args, kwargs) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides on Ctrl-C
    try:
        conn.send(("ok", fn(*args, **kwargs), None))
    except BaseException as exc:  # report everything; the parent classifies
        status = _classify(exc)
        if status == "unsupported":  # an expected outcome: the reason alone
            conn.send((status, None, " ".join(str(exc).split())))
        else:
            msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:2000]
            conn.send((status, None, msg + "\n" + traceback.format_exc(limit=8)))
    finally:
        conn.close()


def run_isolated(fn: Callable, *args, timeout_s: float = 600.0, **kwargs) -> Outcome:
    """Run `fn(*args, **kwargs)` in a child; never raises for the child's failures."""
    ctx = _context()
    recv, send = ctx.Pipe(duplex=False)
    # not daemonic: a point may start its own workers (DataLoader); PDEATHSIG still ties it to us
    proc = ctx.Process(target=_child, args=(send, fn, args, kwargs), daemon=False)
    proc.start()  # blocks until forked: the forkserver's one-off torch import is not billed
    t0 = time.perf_counter()
    send.close()
    try:
        return _collect(proc, recv, timeout_s, t0)
    except BaseException:  # Ctrl-C / SIGTERM in the parent: take the child down too
        _kill(proc)
        raise
    finally:
        recv.close()


def _collect(proc, recv, timeout_s: float, t0: float) -> Outcome:
    deadline = t0 + timeout_s
    while True:
        if recv.poll(min(0.2, max(0.0, deadline - time.perf_counter()))):
            try:
                status, value, err = recv.recv()
            except EOFError:
                break  # died without a word
            proc.join(5)
            _kill(proc)
            return Outcome(status, value, err, time.perf_counter() - t0, proc.exitcode)
        if not proc.is_alive():
            break
        if time.perf_counter() >= deadline:
            _kill(proc)
            return Outcome("timeout", None, f"no result within the {timeout_s:g} s limit; child killed",
                           time.perf_counter() - t0, proc.exitcode)
    proc.join(5)
    return _died(proc, time.perf_counter() - t0)


def _died(proc, wall: float) -> Outcome:
    code = proc.exitcode
    if code is not None and code < 0:
        sig = signal.Signals(-code).name
        why = " (the kernel OOM killer sends this)" if -code == signal.SIGKILL else ""
        return Outcome("killed", None, f"child killed by {sig}{why}", wall, code)
    return Outcome("failed", None, f"child exited with code {code} without a result", wall, code)


def _kill(proc) -> None:
    if proc.is_alive():
        proc.terminate()
        proc.join(2)
    if proc.is_alive():
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(2)


def require_positive_timeout(value: float, field: str = "--point-timeout") -> float:
    if not value or value <= 0:
        raise RaxError(f"must be a positive number of seconds, got {value!r}", field=field)
    return float(value)
