"""Faults during measurement, each triggered for real on a real `rax` process: SIGINT and
SIGTERM to the parent, a rank killed mid-collective (DDP), the kernel's OOM kill and an
address-space cap on a point child, a full disk under the results store, and the
namespaces of a parent that was SIGKILLed. Each must end within a bounded time with a
clear one-line message, leave no child process or namespace, and keep every completed
point in the store. (Compute SIGKILL of the parent, comm killed rank / hung peer /
SIGTERM live in tests/measure.)"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import time

import psutil
import pytest

from raxlab.store import Store
from tests.conftest import is_root
from tests.reliability.procs import (descendants, namespaces_of, rax, record, signal_and_time, stored_points,
                                     wait_no_marked, wait_until)

COMM = ["bench", "comm", "--ranks", "2", "--collectives", "all_reduce", "-b", "64K", "-e", "64M", "--iters", "10",
        "--warmup", "1"]
root = pytest.mark.skipif(not is_root(), reason="needs root (network namespaces, tmpfs mounts)")


def interrupted_exit(code: int) -> bool:
    """130 (our handler's return), or death by SIGINT, which shells also report as 130 and which
    Python uses when a KeyboardInterrupt escapes. Seen once on a fresh clone: -2 after the
    "rax: interrupted" line during `rax run`'s card stage (cause not found; the run's state and
    the absence of leftovers are still checked)."""
    return code in (130, -signal.SIGINT)


def _one_line(err: str, *expected: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("#", "  "))]
    assert lines and "Traceback" not in err, err
    for text in expected:
        assert text in lines[-1], err
    return lines[-1]


@pytest.mark.parametrize("sig", [signal.SIGINT], ids=["SIGINT"])  # SIGTERM: tests/measure/comm/test_faults.py
def test_comm_parent_signal_ends_cleanly(tmp_path, sig):
    db = tmp_path / "c.db"
    proc = rax(*COMM, "--store", db)
    wait_until(lambda: stored_points(db) >= 2, 120, proc)
    kids = descendants(proc.pid)
    took, _, err = signal_and_time(proc, sig)
    record(f"bench comm, {signal.Signals(sig).name} to the parent", took)
    assert interrupted_exit(proc.returncode) and took < 15
    _one_line(err, "interrupted", "kept")
    assert kids and wait_no_marked(proc, 5) < 5
    run = Store(db).get_run("latest")
    assert run["status"] == "interrupted" and sum(p["status"] == "ok" for p in run["points"]) >= 2
    assert run["points"][-1]["status"] == "killed"  # the size in flight, with why


@root
def test_emulated_comm_sigterm_removes_namespaces(tmp_path):
    db = tmp_path / "e.db"
    proc = rax(*COMM, "--emulate", "1gbit", "--store", db)
    wait_until(lambda: stored_points(db) >= 2, 120, proc)
    assert len(namespaces_of(proc.pid)) == 3  # bridge + 2 ranks
    took, _, err = signal_and_time(proc, signal.SIGTERM)
    record("bench comm --emulate, SIGTERM to the parent", took)
    assert interrupted_exit(proc.returncode) and took < 20 and namespaces_of(proc.pid) == []
    assert wait_no_marked(proc, 5) < 5
    assert Store(db).get_run("latest")["status"] == "interrupted"


@root
def test_sigkilled_parent_leaves_namespaces_that_the_next_run_sweeps(tmp_path):
    """kill -9 cannot be caught: ranks die with their parent (PDEATHSIG); the namespaces
    stay, named by the dead pid, and the next emulated run (or sweep_stale) removes them."""
    from raxlab.netemu import sweep_stale

    db = tmp_path / "k.db"
    proc = rax(*COMM, "--emulate", "1gbit", "--store", db)
    wait_until(lambda: stored_points(db) >= 1, 120, proc)
    left = namespaces_of(proc.pid)
    proc.kill()
    proc.communicate(timeout=30)
    record("bench comm --emulate, SIGKILL to the parent: ranks gone", wait_no_marked(proc, 10))
    assert namespaces_of(proc.pid) == left and len(left) == 3
    assert set(left) <= set(sweep_stale()) and namespaces_of(proc.pid) == []
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(*) FROM points WHERE status='ok'").fetchone()[0] >= 1


def test_ddp_rank_killed_mid_step(tmp_path):
    db = tmp_path / "d.db"
    proc = rax("bench", "ddp", "tiny-lm", "--ranks", "2", "--steps", "40", "--max-seconds", "120", "--store", db,
               "--json")
    wait_until(lambda: stored_points(db) >= 1, 180, proc)  # warm-up done: the step rounds run
    kids = descendants(proc.pid)
    rank1 = next(p for p in kids if psutil.Process(p).environ().get("RANK") == "1")
    t0 = time.monotonic()
    os.kill(rank1, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    took = time.monotonic() - t0
    record("bench ddp, rank 1 SIGKILLed mid-step", took)
    assert proc.returncode == 2 and took < 20
    _one_line(err, "rank 1", "SIGKILL")
    assert wait_no_marked(proc, 5) < 5
    run = Store(db).get_run("latest")
    assert run["status"] == "failed" and run["points"][0]["name"] == "warm-up"


def _address_space_cap(gib: float):
    def cap():
        limit = int(gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return cap


COMPUTE = ["bench", "compute", "small-cnn", "--precision", "fp32", "--modes", "train", "--point-seconds", "0.3",
           "--no-gemm-probe", "--json"]
# One thread and two malloc arenas: the address space a point needs no longer grows with the core count.
LEAN = {"OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}


def test_point_over_its_memory_cap_is_oom_and_the_sweep_goes_on(tmp_path):
    """RLIMIT_AS (inherited by the forkserver and every point child) caps memory for real:
    batch 4096 cannot allocate its activations, is stored as 'oom', and the run completes."""
    db = tmp_path / "m.db"
    t0 = time.monotonic()
    proc = rax(*COMPUTE, "--micro-batch", "1,2,4096", "--store", db, env=LEAN, preexec_fn=_address_space_cap(1.4))
    out, err = proc.communicate(timeout=240)
    record("bench compute, point over a 1.4 GiB address-space cap (whole sweep)", time.monotonic() - t0)
    assert proc.returncode == 0, err
    assert wait_no_marked(proc, 5) < 5
    points = {p["name"]: p for p in Store(db).get_run("latest")["points"]}
    assert points["train/fp32/b1"]["status"] == "ok" and points["train/fp32/b2"]["status"] == "ok"
    oom = points["train/fp32/b4096"]
    assert oom["status"] == "oom" and "allocate" in oom["error"].splitlines()[0]
    assert Store(db).get_run("latest")["status"] == "complete"


def test_kernel_oom_kill_of_a_point_is_recorded_and_larger_batches_skipped(tmp_path):
    """The OOM killer sends SIGKILL to the biggest process: the point child. Sent here by hand
    (a real cgroup limit would need the host's cgroup tree): the point is 'killed' with the
    OOM wording, larger batches of that precision are skipped, the run completes."""
    db = tmp_path / "k.db"
    proc = rax(*COMPUTE, "--micro-batch", "1,64,128", "--point-seconds", "20", "--store", db, env=LEAN)
    wait_until(lambda: stored_points(db) >= 1, 120, proc)
    wait_until(lambda: _point_child(proc.pid) is not None, 60, proc)
    point = _point_child(proc.pid)
    t0 = time.monotonic()
    os.kill(point, signal.SIGKILL)
    wait_until(lambda: stored_points(db) >= 2, 30, proc)
    record("bench compute, point child SIGKILLed (OOM killer): point stored", time.monotonic() - t0)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert wait_no_marked(proc, 5) < 5
    points = {p["name"]: p for p in Store(db).get_run("latest")["points"]}
    assert points["train/fp32/b64"]["status"] == "killed" and "OOM killer" in points["train/fp32/b64"]["error"]
    assert points["train/fp32/b128"]["status"] == "skipped"


def _point_child(pid: int) -> int | None:
    """The point in flight: a child of the forkserver that the rax process started."""
    for proc in psutil.Process(pid).children():
        if "forkserver" in " ".join(proc.cmdline()):
            kids = proc.children()
            return kids[0].pid if kids else None
    return None


@pytest.fixture
def tiny_disk(tmp_path):
    """A 4 MiB tmpfs, unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(mnt, leave: int) -> None:
    st = os.statvfs(mnt)
    with open(mnt / "filler", "wb") as f:
        f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))


@root
def test_full_disk_under_the_store_keeps_every_committed_point(tiny_disk):
    db = tiny_disk / "rax.db"
    Store(db).close()  # the schema exists; what is left fills up mid-sweep
    _fill(tiny_disk, leave=160 * 1024)
    proc = rax(*COMM[:-4], "--iters", "3", "--warmup", "1", "-b", "8", "-e", "256M", "-f", "2", "--store", db,
               "--dtypes", "fp32,bf16,fp16")
    t0 = time.monotonic()
    out, err = proc.communicate(timeout=300)
    record("bench comm, results store on a full disk", time.monotonic() - t0)
    assert proc.returncode == 2, err
    _one_line(err, "rax: error:", "disk full", "kept")
    assert wait_no_marked(proc, 5) < 5
    printed = [ln for ln in out.splitlines() if ln.strip()[:1].isdigit()]
    (tiny_disk / "filler").unlink()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = con.execute("SELECT COUNT(*) FROM points WHERE status='ok'").fetchone()[0]
    assert stored >= len(printed) >= 1  # every row shown to the user was committed first


def _lines(proc) -> list[str]:
    """stdout lines as they come (a reader thread), so a test can wait for a stage."""
    import threading

    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    return lines


PIPE = ["run", "small-cnn", "--quick", "--skip", "io,comm,ddp,calibrate,plan,report"]


def _pipeline_after(db, proc) -> tuple[dict, dict]:
    st = Store(db)
    top = st.get_run(st.list_runs(kind="run")[0]["id"])
    children = {r["kind"]: r for r in st.list_runs() if r["kind"] != "run"}
    return top, children


def test_rax_run_sigint_mid_measurement_keeps_the_stages_done(tmp_path):
    db = tmp_path / "p.db"
    proc = rax(*PIPE, "--store", db)
    out = _lines(proc)
    wait_until(lambda: stored_points(db) >= 1, 180, proc)  # the compute stage stored a point
    took, _, err = signal_and_time(proc, signal.SIGINT)
    record("rax run, SIGINT during the compute stage", took)
    assert interrupted_exit(proc.returncode) and took < 15, err
    _one_line(err, "interrupted")
    assert wait_no_marked(proc, 5) < 5
    top, children = _pipeline_after(db, proc)
    assert top["status"] == "interrupted" and top["artifacts"]["stages"]["card"]["status"] == "ok"
    assert children["compute"]["status"] == "interrupted" and children["compute"]["n_points"] >= 1
    assert any("compute ..." in ln for ln in out)


def test_rax_run_sigterm_between_stages_marks_the_run_interrupted(tmp_path):
    """SIGTERM outside a measurement (card, plan, report) must unwind like Ctrl-C, not end
    Python on the spot leaving the run 'running' forever."""
    db = tmp_path / "t.db"
    proc = rax(*PIPE, "--store", db)
    out = _lines(proc)
    wait_until(lambda: any("card ..." in ln for ln in out), 120, proc)
    took, _, err = signal_and_time(proc, signal.SIGTERM)
    record("rax run, SIGTERM during the card stage", took)
    assert interrupted_exit(proc.returncode) and took < 15, err
    assert wait_no_marked(proc, 5) < 5
    top, _ = _pipeline_after(db, proc)
    assert top["status"] == "interrupted"


def test_aborted_rank_is_named_with_its_last_words():
    """A rank that aborts (gloo/NCCL C++ exceptions end in SIGABRT) is named with the line it
    printed, so the one-line error says why, not only which signal."""
    from raxlab.measure.comm.launch import LaunchSpec, RankFailure, launch

    t0 = time.monotonic()
    with pytest.raises(RankFailure) as err:
        # a fixed port starts both ranks at once; this worker never rendezvouses
        launch(LaunchSpec("tests.reliability.abort_worker", ranks=2, master_port=1, timeout_s=20))
    record("launcher, rank 1 aborts (SIGABRT)", time.monotonic() - t0)
    msg = str(err.value)
    assert msg.startswith("rank 1 exited with SIGABRT") and "Connection closed by peer" in msg and "\n" not in msg
    assert time.monotonic() - t0 < 15


def test_nohup_keeps_ignoring_sighup():
    """Every command turns SIGTERM/SIGHUP into an orderly interrupt, except a signal the user
    chose to ignore: under `nohup`, closing the terminal must not stop a long run."""
    from raxlab.netemu.cleanup import terminate_as_interrupt

    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with terminate_as_interrupt():
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.05)  # a handler would raise KeyboardInterrupt here
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, old)
