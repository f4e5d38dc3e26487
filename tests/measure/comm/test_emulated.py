"""Root: the comm benchmark over emulated links delivers the link rate, and cleans up.

Link rates are low (1-2 gbit) so that two shared cores keep up; sizes scale with the
rate so every op lasts 35-270 ms and the tbf bucket (1 ms of rate) is a few % of it.
4 ranks at 2 gbit and above exceed what 4 processes on 2 cores move even over unshaped
veths (measured 0.21-0.26 GB/s busbw); benchmarks/bench_comm.py reports those cases
next to the host's unshaped ceiling.
Other work on the machine can only slow a run down, so each case gets up to three
attempts and the best one is judged; the bounds stay two-sided (+-10 % of the rate),
so a wrong shaping (too fast or too slow) fails every attempt.
"""

import os
import signal
import threading

import psutil
import pytest

from raxlab.measure.comm.driver import run_comm
from raxlab.measure.comm.launch import RankFailure
from raxlab.measure.comm.options import SweepOptions
from raxlab.netemu import rax_namespaces
from raxlab.store import Store

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
pytestmark = [pytest.mark.root, pytest.mark.slow,
              pytest.mark.skipif(not ROOT, reason="emulated fabrics need root (network namespaces, tc)")]
MiB = 2**20


def ours() -> list[str]:
    return [n for n in rax_namespaces() if n.startswith(f"rax-{os.getpid()}-")]


def allreduce(ranks: int, rate: str, gbit: float, db: str):
    sweep = SweepOptions(collectives="all_reduce", min_bytes=int(4 * MiB * gbit), max_bytes=int(16 * MiB * gbit),
                         iters=9, warmup=1, timeout_s=60).validate()
    return run_comm(sweep, ranks=ranks, emulate=rate, store=db)


def best_fraction(ranks: int, gbit: float, db: str, attempts: int = 4) -> tuple[float, float, object]:
    """(largest-size busbw, fitted beta) as fractions of the link rate, best attempt. Four ranks
    share two cores here, and a run's figures swing between 0.86 and 0.98 of the link from
    scheduling alone (measured, 4 ranks at 1 gbit); medians of 9 and up to 4 attempts keep that
    noise from failing a correctly shaped link, while a mis-shaped one (e.g. a bucket below one
    GSO packet: 41 % of the rate) fails every attempt."""
    link, best = gbit / 8, None
    for _ in range(attempts):
        run = allreduce(ranks, f"{gbit:g}gbit", gbit, db)
        assert not ours()  # torn down after every run
        fracs = (run.rows[-1]["busbw_GBps"] / link, run.fits[0]["beta_GBps"] / link, run)
        if best is None or min(fracs[:2]) > min(best[:2]):
            best = fracs
        if all(0.9 <= f <= 1.1 for f in fracs[:2]):
            break
    return best


@pytest.mark.parametrize("ranks,gbit", [(2, 1), (4, 1), (2, 2)])
def test_allreduce_busbw_matches_the_link_rate(ranks, gbit, tmp_path):
    large, beta, run = best_fraction(ranks, gbit, str(tmp_path / "e.db"))
    assert 0.9 <= large <= 1.1, f"busbw at 16 MiB x{gbit} is {large:.1%} of the {gbit} gbit link"
    assert 0.9 <= beta <= 1.1, f"fitted beta is {beta:.1%} of the {gbit} gbit link"
    assert all(r["correct"] for r in run.rows)
    assert run.params["fabric"]["shaping"]["rate_GBps"] == gbit / 8
    assert "latency not emulated" in run.params["fabric"]["shaping"]["note"]


def test_killed_rank_in_a_namespace_leaves_no_namespace(tmp_path):
    db = str(tmp_path / "k.db")
    sweep = SweepOptions(collectives="all_reduce", min_bytes=MiB, max_bytes=64 * MiB, iters=5, warmup=1,
                         timeout_s=30).validate()
    seen = {"rows": 0}

    def hook(ev):
        if ev.get("ev") == "row":
            seen["rows"] += 1
            if seen["rows"] == 2:
                assert len(ours()) == 3  # two ranks + the bridge, while running
                victim = next(c for c in psutil.Process().children(recursive=True)
                              if c.environ().get("RAX_LAUNCH") and c.environ().get("RANK") == "1")
                threading.Thread(target=os.kill, args=(victim.pid, signal.SIGKILL)).start()

    with pytest.raises(RankFailure, match="rank 1 exited with SIGKILL during all_reduce"):
        run_comm(sweep, ranks=2, emulate="1gbit", store=db, on_event=hook)
    assert not ours() and not psutil.Process().children(recursive=True)
    run = Store(db).get_run("latest")
    assert run["status"] == "failed" and sum(p["status"] == "ok" for p in run["points"]) >= 2
