"""Real `rax` processes for fault tests: start, wait for stored progress, signal, time the end."""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil


MARK = "RAX_TEST_MARK"


def rax(*argv, env: dict | None = None, **kw) -> subprocess.Popen:
    """`python -m raxlab ARGV` as a child of the test, stdout/stderr captured as text. Every
    process it starts inherits a unique RAX_TEST_MARK, so leftovers can be found (`marked`)
    even after they were re-parented."""
    cmd = [sys.executable, "-m", "raxlab", *map(str, argv)]
    mark = secrets.token_hex(8)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {}), MARK: mark}, **kw)
    proc.mark = mark
    return proc


def marked(proc: subprocess.Popen) -> list[int]:
    """Live processes (not zombies) carrying this run's mark, wherever they are in the tree."""
    needle = f"{MARK}={proc.mark}".encode()
    out = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            if needle in (d / "environ").read_bytes().split(b"\0") and "Z" not in (d / "stat").read_text().rsplit(")", 1)[1][:3]:
                out.append(int(d.name))
        except (OSError, IndexError):
            continue
    return out


def wait_no_marked(proc: subprocess.Popen, timeout: float) -> float:
    """Seconds until no process of this run is left (AssertionError listing them otherwise)."""
    t0 = time.monotonic()
    while marked(proc):
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"left running after {timeout} s: {marked(proc)}")
        time.sleep(0.05)
    return time.monotonic() - t0


def stored_points(db: str | Path, status: str | None = None) -> int:
    """Points committed so far (a WAL reader never blocks the writer)."""
    if not Path(db).exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            sql, args = "SELECT COUNT(*) FROM points", ()
            if status:
                sql, args = sql + " WHERE status=?", (status,)
            return con.execute(sql, args).fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # schema not there yet
        return 0


def wait_until(pred, timeout: float, proc: subprocess.Popen | None = None, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"rax ended early ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)


def descendants(pid: int) -> list[int]:
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def alive(pids: list[int]) -> list[int]:
    out = []
    for p in pids:
        try:
            if psutil.Process(p).status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def signal_and_time(proc: subprocess.Popen, sig: int, timeout: float = 60) -> tuple[float, str, str]:
    """Send `sig`; (seconds until rax exited, stdout, stderr)."""
    t0 = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=timeout)
    return time.monotonic() - t0, out, err


def wait_gone(pids: list[int], timeout: float) -> float:
    """Seconds until every pid is gone (AssertionError naming the survivors otherwise)."""
    t0 = time.monotonic()
    while alive(pids):
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"still alive after {timeout} s: {alive(pids)}")
        time.sleep(0.05)
    return time.monotonic() - t0


def namespaces_of(pid: int) -> list[str]:
    from raxlab.netemu import rax_namespaces

    return [n for n in rax_namespaces() if n.startswith(f"rax-{pid}-")]


TIMES: dict[str, float] = {}  # scenario -> measured seconds to end, printed in the session summary


def record(name: str, seconds: float) -> None:
    TIMES[name] = round(seconds, 2)
    sys.stderr.write(f"\n[fault] {name}: ended in {seconds:.2f} s\n")


