"""Cleanup that survives failures: stale-namespace sweep and SIGTERM -> KeyboardInterrupt.

A run that is `kill -9`ed cannot tear its fabric down; its namespaces stay behind.
Their names carry the owner's pid (`rax-<pid>-<hex>-...`), so any later run (or
`sweep_stale()` by hand) removes the ones whose owner is gone, and never touches a
live run's. SIGTERM and SIGHUP, which would end Python without running `finally`
blocks or atexit handlers, are turned into KeyboardInterrupt while a fabric or a
launch is up, so the normal unwinding kills the ranks and deletes the namespaces.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading

from raxlab.netemu.fabric import run_cmd

NS_RE = re.compile(r"^rax-(\d+)-[0-9a-f]{6}-(?:br|sp|[rnl]\d+|bg\d+)$")  # fabric.py and tiers.py names


def rax_namespaces() -> list[str]:
    """Every namespace that an emulated fabric (any run) created."""
    proc = run_cmd("ip", "netns", "list", check=False)
    names = [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]
    return [n for n in names if NS_RE.match(n)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> list[str]:
    """Delete the namespaces of runs whose owning process is dead; returns their names."""
    removed = []
    for ns in rax_namespaces():
        pid = int(NS_RE.match(ns).group(1))
        if pid != os.getpid() and not _alive(pid):
            run_cmd("ip", "netns", "del", ns, check=False)
            removed.append(ns)
    return removed


def _raise_interrupt(signum, _frame):
    raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")


@contextlib.contextmanager
def terminate_as_interrupt():
    """Inside the block, SIGTERM/SIGHUP raise KeyboardInterrupt (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # A signal set to be ignored stays ignored: `nohup rax ...` must survive its terminal closing.
    old = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGTERM, signal.SIGHUP)
           if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
