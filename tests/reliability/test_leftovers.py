"""Temporary files of a run never outlive it (raxlab.rundir): torchrun's `torchelastic_*` log
dir, multiprocessing's `pymp-*`, the launchers' own dirs. Each real `rax` here gets a TMPDIR of
its own, which must be empty once the run has ended, or once the next `rax` has started after a
kill -9 that no cleanup can catch."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from raxlab import rundir
from tests.reliability.procs import rax, stored_points, wait_no_marked, wait_until


def _tree(base) -> list[str]:
    return sorted(str(p.relative_to(base)) for p in base.rglob("*"))


@pytest.fixture
def short_base():
    """A TMPDIR short enough that rax keeps its private dir under it (rundir falls back to /tmp
    under a deep one, where the forkserver's AF_UNIX address would not fit)."""
    base = Path(tempfile.mkdtemp(prefix="rxt-", dir="/tmp"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_torchrun_leaves_no_torchelastic_dir(tmp_path, short_base):
    """torchrun's agent makes /tmp/torchelastic_* and never removes it (its log dir)."""
    base = short_base
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = rax("launch", "--nproc-per-node", "1", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-timeout", "60",
               "--store", tmp_path / "l.db", "--execute", "--", "rax", "bench", "comm", "--collectives",
               "all_reduce", "-b", "1K", "-e", "1K", "--iters", "2", "--warmup", "1", env={"TMPDIR": str(base)})
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-2000:]
    assert _tree(base) == []


def test_sigkilled_run_leaves_its_dir_to_the_next_start(tmp_path, short_base):
    """kill -9 cannot be caught: the forkserver's pymp-* stays in the run's private dir until the
    next rax starts and sweeps it (its owner's lock is gone)."""
    base, db = short_base, tmp_path / "k.db"
    env = {"TMPDIR": str(base)}
    proc = rax("bench", "kernels", "--precisions", "fp32", "--max-seconds", "1", "--store", db, env=env)
    wait_until(lambda: stored_points(db) >= 1, 180, proc)
    assert any(p.startswith("pymp-") for p in map(os.path.basename, _tree(base)))  # the forkserver's
    proc.kill()
    proc.communicate(timeout=30)
    wait_no_marked(proc, 10)
    (left,) = base.iterdir()  # the run's private dir, left by the kill
    assert left.name.startswith(f"rax-{proc.pid}-")
    nxt = rax("runs", "list", "--store", db, env=env)
    out, err = nxt.communicate(timeout=60)
    assert nxt.returncode == 0, err
    assert _tree(base) == []


def test_sweep_keeps_live_owners_and_foreign_names(tmp_path):
    live = tmp_path / "rax-1-livelive"  # pid 1 lives, and its lock is held below
    dead = tmp_path / "rax-999999-deadxxxx"
    for d in (live, dead, tmp_path / "rax-notours"):
        d.mkdir()
        (d / rundir.LOCK).touch()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time\n"
                               f"fd = os.open({str(live / rundir.LOCK)!r}, os.O_RDWR)\n"
                               "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert rundir.sweep_stale(tmp_path) == [dead.name]
        assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "rax-notours"]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert rundir.sweep_stale(tmp_path) == [live.name]  # the holder died: its lock went with it
    fd = os.open(tmp_path / "rax-notours" / rundir.LOCK, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # untouched and unlocked, but not a run dir name
    os.close(fd)


def test_a_deep_tmpdir_falls_back_to_a_short_base(tmp_path, monkeypatch):
    """Under a TMPDIR too deep for the forkserver's socket address, the private dir goes to /tmp."""
    deep = tmp_path / ("d" * 60)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    assert rundir._base() == Path("/tmp")
    monkeypatch.setattr(tempfile, "tempdir", "/tmp")
    assert rundir._base() == Path("/tmp")
