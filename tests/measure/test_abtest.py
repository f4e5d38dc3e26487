"""Root: the fabric A/B on emulated 1 vs 4 gbit links, verdicts from measurement.

Two cases on 2 ranks with gloo (tbf-shaped veths, one rank per namespace):
- communication-heavy: a 12.8 M-parameter MLP (51 MB of fp32 gradients) at batch 1 with
  SGD, so the all-reduce dominates: ~0.41 s per step at 1 gbit (51 MB / 0.125 GB/s, 2-rank
  ring: each rank sends S) against ~0.1 s at 4 gbit, beside ~0.1 s of compute. Measured
  here (loaded 2-core host): 0.60 vs 0.38 s, ratio 1.57, CI [1.46, 1.99].
- compute-heavy: the small CNN (width 32, 94 k parameters, 0.38 MB of gradients) at batch
  64, ~0.27 s of compute per step; the all-reduce takes ~3 ms at 1 gbit, ~1 % of the step.
6 repetitions per arm: one overlap still gives p = 0.0043 < 0.01 (a 5/5 design can only
pass with complete separation, p = 0.0079). The assertions are the verdicts themselves.
"""

import os
import signal
import threading

import psutil
import pytest

from raxlab.measure.ab_stats import PAYS, TIE
from raxlab.measure.abtest import AbOptions, run_abtest
from raxlab.measure.abtest_arms import parse_arms
from raxlab.measure.comm.launch import RankFailure
from raxlab.measure.ddp_options import DdpOptions
from raxlab.netemu import rax_namespaces
from raxlab.store import Store

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
pytestmark = [pytest.mark.root, pytest.mark.slow,
              pytest.mark.skipif(not ROOT, reason="emulated fabrics need root (network namespaces, tc)")]
ARMS = ["fast=emulate:4gbit", "slow=emulate:1gbit"]
DESIGN = AbOptions(reps=6, steps=3, rep_warmup=0)


def ours() -> list[str]:
    return [n for n in rax_namespaces() if n.startswith(f"rax-{os.getpid()}-")]


@pytest.fixture
def wide_mlp(tmp_path) -> str:
    rows = ["a,b,c,label"] + [f"{i},{i * 0.5},{-i},{i % 3}" for i in range(64)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    spec = tmp_path / "wide.yaml"
    spec.write_text("name: wide-mlp\nmodel: tiny-mlp\nmodel_args: {in_features: 3, out_features: 3, hidden: 3584}\n"
                    "data: t.csv\nmicro_batch: 1\n")
    return str(spec)


@pytest.fixture
def conv_net(tmp_path) -> str:
    spec = tmp_path / "conv.yaml"
    spec.write_text("name: conv-heavy\nmodel: small-cnn\nmodel_args: {num_classes: 4, in_channels: 3, width: 32}\n"
                    "data: shapes\nimage_size: 32\nmicro_batch: 64\n")
    return str(spec)


def test_communication_heavy_step_faster_link_pays(wide_mlp, tmp_path):
    opts = DdpOptions(wide_mlp, optimizer="sgd", warmup=2, timeout_s=120).validate()
    run = run_abtest(opts, parse_arms(ARMS), DESIGN, ranks=2, store=str(tmp_path / "ab.db"))
    v = run.analysis["verdict"]
    c = v["comparisons"][0]
    assert v["verdict"] == PAYS and v["recommended"] == "fast" and v["cheapest"] == "slow", c
    assert c["arm"] == "slow" and c["p_value"] < 0.01 and c["ci"][0] > 1.05 and c["materially_slower"]
    arms = run.analysis["arms"]
    assert arms["slow"]["exposed_comm_share"] > arms["fast"]["exposed_comm_share"]
    _check_stored(tmp_path / "ab.db", run.run_id)
    assert not ours()


def _check_stored(db, run_id) -> None:
    stored = Store(str(db)).get_run(run_id)
    reps = [p for p in stored["points"] if " rep " in p["name"]]
    assert [p["params"]["arm"] for p in reps] == ["fast", "slow"] * 6  # interleaved A B A B ...
    assert all(len(p["samples"]) == 3 and len(p["result"]["nosync_s"]) == 3 for p in reps)
    assert {a["name"]: a["fabric_built"]["shaping"]["rate"] for a in stored["params"]["arms"]} == \
        {"fast": "4gbit", "slow": "1gbit"}
    assert {n: t["0"]["kind"] for n, t in stored["artifacts"]["abtest_transport"].items()} == \
        {"fast": "tcp", "slow": "tcp"}
    assert stored["artifacts"]["abtest"]["arms"][0]["n"] == 6 and stored["fingerprints"]["host"]


def test_compute_heavy_step_is_a_tie_cheaper_link_is_enough(conv_net, tmp_path):
    opts = DdpOptions(conv_net, warmup=2, timeout_s=120, split=False).validate()  # the verdict needs no split
    run = run_abtest(opts, parse_arms(ARMS), DESIGN, ranks=2, store=str(tmp_path / "ab.db"))
    v = run.analysis["verdict"]
    assert v["verdict"] == TIE and v["recommended"] == "slow", v["comparisons"]
    assert not v["comparisons"][0]["materially_slower"] and v["cost_basis"] == "link rate"
    assert not ours()


def test_killed_rank_ends_the_experiment_and_keeps_completed_repetitions(tmp_path):
    db = str(tmp_path / "k.db")
    stored = []

    def hook(ev):
        if ev.get("ev") == "rep_stored":
            stored.append(ev)
            if len(stored) == 3:  # fast 0, slow 0, fast 1 done; slow 1 is next
                victim = next(c for c in psutil.Process().children(recursive=True)
                              if c.environ().get("RANK") == "1" and any("control-slow" in a for a in c.cmdline()))
                threading.Thread(target=os.kill, args=(victim.pid, signal.SIGKILL)).start()

    opts = DdpOptions("small-cnn", batch=8, warmup=1, timeout_s=30).validate()
    with pytest.raises(RankFailure, match=r"arm slow: rank 1 exited with SIGKILL"):
        run_abtest(opts, parse_arms(ARMS), AbOptions(reps=5, steps=1, rep_warmup=0), ranks=2, store=db,
                   on_event=hook)
    run = Store(db).get_run("latest")
    reps = [p for p in run["points"] if " rep " in p["name"]]
    assert run["status"] == "failed" and [p["status"] for p in reps] == ["ok"] * 3 + ["killed"]
    assert reps[-1]["name"] == "slow rep 1" and "rank 1" in reps[-1]["error"]
    assert run["artifacts"]["abtest_analysis"]["complete"] is False
    assert not psutil.Process().children(recursive=True) and not ours()
