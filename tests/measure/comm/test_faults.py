"""A killed rank, a hung peer, a terminated parent: bounded time, clear message, points kept."""

import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from raxlab.measure.comm.driver import run_comm
from raxlab.measure.comm.launch import RankFailure
from raxlab.measure.comm.options import SweepOptions
from raxlab.store import Store


def rank_pid(rank: int, root: int | None = None) -> int | None:
    for child in psutil.Process(root).children(recursive=True):
        try:
            env = child.environ()
        except psutil.Error:
            continue
        if env.get("RAX_LAUNCH") and env.get("RANK") == str(rank):
            return child.pid
    return None


def sweep(timeout_s: float) -> SweepOptions:
    # all_reduce 64 KiB .. 64 MiB: long enough that the fault lands mid-sweep
    return SweepOptions(collectives="all_reduce", min_bytes=64 * 1024, max_bytes=64 * 2**20, step_factor=2,
                        iters=10, warmup=1, timeout_s=timeout_s).validate()


def fault_after_rows(n_rows: int, sig: int, stamp: dict):
    """An on_event hook that sends `sig` to rank 1 once `n_rows` rows are in."""
    count = {"rows": 0}

    def hook(ev):
        if ev.get("ev") == "row":
            count["rows"] += 1
            if count["rows"] == n_rows:
                def fire():
                    os.kill(rank_pid(1), sig)
                    stamp["t"] = time.perf_counter()
                threading.Thread(target=fire).start()
    return hook


def assert_kept(db: str, at_least: int, status: str) -> dict:
    run = Store(db).get_run("latest")
    ok = [p for p in run["points"] if p["status"] == "ok"]
    assert run["status"] == "failed" and len(ok) >= at_least
    assert run["points"][-1]["status"] == status and "rank 1" in run["points"][-1]["error"]
    assert run["artifacts"]["comm_fit"]  # fitted from the completed sizes
    assert not psutil.Process().children(recursive=True)  # every rank is gone
    return run


def test_killed_rank_ends_the_run_with_its_name_and_keeps_points(tmp_path):
    db, stamp = str(tmp_path / "k.db"), {}
    with pytest.raises(RankFailure) as err:
        run_comm(sweep(30), ranks=2, store=db, on_event=fault_after_rows(3, signal.SIGKILL, stamp))
    took = time.perf_counter() - stamp["t"]
    assert err.value.rank == 1 and err.value.status == "killed"
    assert str(err.value).startswith("rank 1 exited with SIGKILL during all_reduce ")
    assert "\n" not in str(err.value) and took < 10
    assert_kept(db, 3, "killed")


def test_hung_peer_is_named_and_cut_at_the_timeout(tmp_path):
    db, stamp = str(tmp_path / "h.db"), {}
    with pytest.raises(RankFailure) as err:
        run_comm(sweep(4), ranks=2, store=db, on_event=fault_after_rows(2, signal.SIGSTOP, stamp))
    took = time.perf_counter() - stamp["t"]
    assert err.value.rank == 1 and err.value.status == "timeout"
    assert "rank 1 is stopped" in str(err.value) and "no progress for 4 s during all_reduce" in str(err.value)
    assert 4 <= took < 4 + 6
    assert_kept(db, 2, "timeout")


def test_sigterm_to_the_parent_cleans_up_and_keeps_points(tmp_path):
    db = str(tmp_path / "t.db")
    cmd = [sys.executable, "-m", "raxlab", "bench", "comm", "--ranks", "2", "--collectives", "all_reduce",
           "-b", "64K", "-e", "64M", "--iters", "10", "--warmup", "1", "--store", db]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rows = 0
    while rows < 2:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        rows += line.strip()[:1].isdigit()
    ranks = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 130
    assert "interrupted" in proc.stderr.read()
    assert ranks and not [p for p in ranks if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    run = Store(db).get_run("latest")
    assert run["status"] == "interrupted" and sum(p["status"] == "ok" for p in run["points"]) >= 2
