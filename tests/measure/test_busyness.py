"""Busyness through a run: this run's CPU is told apart from other work's, whatever the load."""

import subprocess
import sys
import time

import pytest

from raxlab.measure.busyness import BusySampler, stretch

BURN = ("import sys,time\nt=time.process_time()\nwhile time.process_time()-t<{s}: pass\n"
        "open(sys.argv[1],'w').close() if len(sys.argv)>1 else None")  # CPU seconds, not wall


def _cpu_seconds(sampler: BusySampler, t0: float, t1: float, col: int) -> float:
    """Core-seconds of one column (2 = ours, 3 = others) between perf_counter t0 and t1."""
    rows = [r for r in sampler.samples if t0 < r[0] <= t1 + 2 * sampler.period_s]
    prev = [r for r in sampler.samples if r[0] <= t0]
    last = prev[-1][0] if prev else t0
    total = 0.0
    for r in rows:
        total += r[col] * (r[0] - last)
        last = r[0]
    return total


def _wait_samples(sampler: BusySampler, after: float) -> None:
    end = time.perf_counter() + 10
    while time.perf_counter() < end and not [r for r in sampler.samples if r[0] > after + 2 * sampler.period_s]:
        time.sleep(0.05)


def test_own_child_is_ours_and_an_orphan_is_other_work(tmp_path):
    done = tmp_path / "orphan-done"
    with BusySampler(period_s=0.2, warn=lambda m: None) as s:
        time.sleep(0.3)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", BURN.format(s=0.3)], check=True)  # our child: 0.3 CPU-seconds
        t1 = time.perf_counter()
        _wait_samples(s, t1)
        ours = _cpu_seconds(s, t0, t1, 2)
        # an orphan (its parent exits at once, init adopts it) is not in our process tree
        code = (f"import subprocess,sys\nsubprocess.Popen([sys.executable,'-c',{BURN.format(s=0.3)!r},"
                f"{str(done)!r}],start_new_session=True)")
        t2 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        while not done.exists() and time.perf_counter() < t2 + 30:
            time.sleep(0.05)
        t3 = time.perf_counter()
        _wait_samples(s, t3)
        others, ours_orphan = _cpu_seconds(s, t2, t3, 3), _cpu_seconds(s, t2, t3, 2)
    assert ours >= 0.22, ours  # the child's 0.3 CPU-seconds (less its start-up), however long they took
    assert others >= 0.22 and ours_orphan < 0.15, (others, ours_orphan)
    summary = s.summary()
    assert summary["samples"] == len(s.samples) and summary["cores"] >= 1 and len(summary["timeline"][0]) == 4


def test_stretch_is_processor_sharing():
    assert stretch(1.0, 2, 2) == pytest.approx(1.5)  # 2 ranks + 1 core of others on 2 cores
    assert stretch(2.0, 4, 2) == pytest.approx(1.5)  # 4 ranks already share 2 cores; others add half again
    assert stretch(0.0, 2, 2) == 1.0 and stretch(0.3, 1, 4) == 1.0  # room to spare: no slowdown
