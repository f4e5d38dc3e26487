"""Root: fabric A/B tests on emulated leaf-spine fabrics, decided by the equivalence test.

Both arms are 4 emulated nodes (one rank each, gloo) on 2 leaves with 1 gbit NICs: FLAT has
non-blocking uplinks (2 gbit: 2 nodes x 1 gbit), TAPER uplinks of 0.5 gbit (4:1). A ring
all-reduce over nodes 0 1 2 3 crosses each uplink once per direction, so TAPER halves its rate.
The outcomes are designed to sit far from the 5 % threshold on any CPU:

- (a) communication-heavy: an MLP with 1.05 M parameters (4.2 MB of fp32 gradients) at batch 1
  with SGD: each rank sends 1.5 x 4.2 MB per step, ~50 ms at 1 gbit, ~100 ms through a 0.5 gbit
  uplink, beside a few ms of compute. A faster CPU only makes the ratio larger. Measured here
  (busy host, ~1.1 cores of other work): ratio 1.34-1.47, decided after 8-11 rounds.
- (b) compute-heavy: the small CNN at width 8 (6.2 k parameters, 25 KB of gradients) at batch 192,
  judged against a +-8 % band (the test says why).
  Its all-reduce (37 KB per rank) fits in every tbf bucket (>= 128 KiB), so both fabrics pass
  it at veth speed: the true ratio is 1.00 whatever the CPU, and only noise stands between the
  run and a proven tie. Root cause of the old flaky test: its "compute-heavy" CNN had 376 KB of
  gradients on 1 vs 4 gbit links, 3-9 ms of a 60 ms step on a quiet host (5-15 %, at the
  threshold; it read 1.148 [1.07, 1.23] -> pays) but 1-3 % of a step stretched by other load
  (-> tie): the outcome depended on the load, not on chance. Here the network's part is ~0 and
  a tie under load is qualified by the load stretch (the interval is widened for it).
- (c) the same as (b) while six burner processes spin and rest together in random 0.1-0.4 s slots
  (bounded in time): the pair noise, and the interval's widening for ~2 cores of other work
  (x ~1.5, equivalence.load_adjusted), leave it far wider than the band within the 24 s budget,
  so the verdict must be inconclusive, never a tie.

On a quiet machine (b) must be a proven tie. When other work loads the machine (the busyness
sampler says busy), the honest verdict can also be inconclusive, never a difference: the test
asserts exactly that, and the reason (busy, interval widened) must be in the analysis.
"""

import os
import signal
import subprocess
import sys
import threading

import psutil
import pytest

from raxlab.measure.ab_stats import INCONCLUSIVE, PAYS, TIE
from raxlab.measure.abtest import AbOptions, run_abtest
from raxlab.measure.abtest_arms import parse_arms
from raxlab.measure.comm.launch import RankFailure
from raxlab.measure.ddp_options import DdpOptions
from raxlab.netemu import rax_namespaces
from raxlab.store import Store

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
pytestmark = [pytest.mark.root, pytest.mark.slow,
              pytest.mark.skipif(not ROOT, reason="emulated fabrics need root (network namespaces, tc)")]
FLAT = "flat=emulate:nodes=4,leaves=2,nic=1gbit"
BURNERS = 6  # with the 4 ranks on 2 cores, 6 spinning processes make a step ~2.5x slower while they run
TAPER = "taper=emulate:nodes=4,leaves=2,nic=1gbit,leaf=4:1"
TOPOLOGIES = [FLAT, TAPER]


def ours() -> list[str]:
    return [n for n in rax_namespaces() if n.startswith(f"rax-{os.getpid()}-")]


@pytest.fixture
def wide_mlp(tmp_path) -> str:
    rows = ["a,b,c,label"] + [f"{i},{i * 0.5},{-i},{i % 3}" for i in range(64)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    spec = tmp_path / "wide.yaml"
    spec.write_text("name: wide-mlp\nmodel: tiny-mlp\nmodel_args: {in_features: 3, out_features: 3, hidden: 1024}\n"
                    "data: t.csv\nmicro_batch: 1\n")
    return str(spec)


@pytest.fixture
def conv_net(tmp_path) -> str:
    spec = tmp_path / "conv.yaml"
    spec.write_text("name: conv-heavy\nmodel: small-cnn\nmodel_args: {num_classes: 4, in_channels: 3, width: 8}\n"
                    "data: shapes\nimage_size: 32\nmicro_batch: 192\n")
    return str(spec)


def test_a_comm_heavy_step_on_tapered_uplinks_the_non_blocking_fabric_pays(wide_mlp, tmp_path):
    opts = DdpOptions(wide_mlp, optimizer="sgd", warmup=2, timeout_s=120).validate()
    ab = AbOptions(reps=20, min_reps=4, max_minutes=1.5, steps=2, rep_warmup=0)
    run = run_abtest(opts, parse_arms(TOPOLOGIES, ranks=4), ab, ranks=4, store=str(tmp_path / "ab.db"))
    v = run.analysis["verdict"]
    c = v["comparisons"][0]
    assert v["verdict"] == PAYS and v["recommended"] == "flat" and v["cheapest"] == "taper", c
    assert c["arm"] == "taper" and c["decision"] == "slower" and c["ci"][0] > 1.05 and c["ratio"] > 1.3
    assert v["cost_basis"] == "emulated capacity"
    arms = run.analysis["arms"]
    assert arms["taper"]["exposed_comm_share"] > arms["flat"]["exposed_comm_share"]
    stored = Store(str(tmp_path / "ab.db")).get_run(run.run_id)
    reps = [p["params"]["arm"] for p in stored["points"] if " rep " in p["name"]]
    assert reps[2:4] == reps[1::-1] and len(reps) == 2 * c["n_pairs"]  # a block of two rounds: A B, B A
    tiers = {a["name"]: a["fabric_built"]["tiers"] for a in stored["params"]["arms"]}
    assert tiers["flat"]["uplink"] == "2gbit" and tiers["taper"]["uplink"] == "500mbit"
    assert {n: t["0"]["kind"] for n, t in stored["artifacts"]["abtest_transport"].items()} == \
        {"flat": "tcp", "taper": "tcp"}
    assert stored["artifacts"]["busyness"]["samples"] > 0 and stored["artifacts"]["abtest_looks"][-1]["verdict"] == PAYS
    assert not ours()


def test_b_compute_heavy_step_is_a_proven_tie_or_says_why_not(conv_net, tmp_path):
    opts = DdpOptions(conv_net, warmup=2, timeout_s=120, split=False).validate()
    # A +-8 % band: on this emulation the taper arm runs ~1 % slower even without traffic (measured
    # 1.000-1.013 over six quiet runs; once, in a full suite, 1.030 [1.007, 1.054]), which a +-5 %
    # band cannot prove equal within a minute on 2 cores (+-4 % intervals after 26-59 pairs);
    # against +-8 % the interval gets inside after 26-45 pairs on a quiet host.
    ab = AbOptions(reps=120, min_reps=4, max_minutes=1.0, steps=2, rep_warmup=0, threshold=0.08)
    run = run_abtest(opts, parse_arms(TOPOLOGIES, ranks=4), ab, ranks=4, store=str(tmp_path / "ab.db"))
    v, busy = run.analysis["verdict"], run.analysis["busyness"]
    c = v["comparisons"][0]
    assert v["verdict"] != PAYS and c["decision"] != "slower", c  # never a difference that is not there
    if not busy["busy"]:
        assert v["verdict"] == TIE and v["recommended"] == "taper" and c["decision"] == "equivalent", c
        assert 1 - v["threshold"] <= c["ci"][0] and c["ci"][1] <= 1 + v["threshold"]
    else:  # other work on the machine: a tie or, honestly, inconclusive with the reasons
        assert v["verdict"] in (TIE, INCONCLUSIVE), c
        assert any(n.startswith("busy machine") for n in run.analysis["notes"])
        if v["verdict"] == INCONCLUSIVE:
            assert c["more_pairs"] and "widened" in " ".join(c["reasons"])
    assert not ours()


def _burner(seconds: float, seed: int) -> int:
    """A process that spins in random on/off slots of 0.1-0.4 s for at most `seconds`; its pid.
    It forks away from this process tree (the parent exits at once), so the A/B's busyness
    sampler, which counts its own process tree as "ours", sees it as other work, as it would be
    on a shared machine (as a child of pytest, which also runs the A/B, it counted as ours)."""
    code = ("import os,random,sys,time\npid=os.fork()\nif pid:\n print(pid,flush=True);os._exit(0)\n"
            "os.setsid();sys.stdout.close()\n"
            "r=random.Random(int(sys.argv[2]));end=time.monotonic()+float(sys.argv[1])\n"
            "while time.monotonic()<end:\n d=r.uniform(0.1,0.4);t=time.monotonic()+d\n"
            " if r.random()<0.5:\n  while time.monotonic()<t: pass\n else: time.sleep(d)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(seconds), str(seed)], stdout=subprocess.PIPE, text=True)
    pid = int(proc.stdout.readline())
    proc.wait()
    proc.stdout.close()
    return pid


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_c_a_deliberately_noisy_ab_is_inconclusive_not_a_tie(conv_net, tmp_path):
    opts = DdpOptions(conv_net, warmup=2, timeout_s=120, split=False).validate()
    ab = AbOptions(reps=80, min_reps=4, max_minutes=0.4, steps=2, rep_warmup=0)
    burners = [_burner(40, seed=7) for _ in range(BURNERS)]  # one seed: they spin and rest in lockstep
    try:
        run = run_abtest(opts, parse_arms(TOPOLOGIES, ranks=4), ab, ranks=4, store=str(tmp_path / "ab.db"))
    finally:
        for pid in burners:
            _stop(pid)
    v = run.analysis["verdict"]
    c = v["comparisons"][0]
    assert v["verdict"] == INCONCLUSIVE and v["recommended"] is None and c["decision"] == "inconclusive", c
    assert c["more_pairs"] and v["final"]  # ran to its budget and says what would settle it
    assert run.analysis["busyness"]["busy"] and c["load_stretch"] > 1.0  # the burners are seen as other work
    assert any(n.startswith("busy machine") for n in run.analysis["notes"])
    assert not ours()


def test_killed_rank_ends_the_experiment_and_keeps_completed_repetitions(tmp_path):
    db = str(tmp_path / "k.db")
    stored = []

    def hook(ev):
        if ev.get("ev") == "rep_stored":
            stored.append(ev)
            if len(stored) == 2:  # round 0 done (fast, slow); round 1 starts with slow
                victim = next(c for c in psutil.Process().children(recursive=True)
                              if c.environ().get("RANK") == "1" and any("control-slow" in a for a in c.cmdline()))
                threading.Thread(target=os.kill, args=(victim.pid, signal.SIGKILL)).start()

    opts = DdpOptions("small-cnn", batch=8, warmup=1, timeout_s=30).validate()
    with pytest.raises(RankFailure, match=r"arm slow: rank 1 exited with SIGKILL"):
        run_abtest(opts, parse_arms(["fast=emulate:4gbit", "slow=emulate:1gbit"]),
                   AbOptions(reps=5, min_reps=5, steps=1, rep_warmup=0), ranks=2, store=db, on_event=hook)
    run = Store(db).get_run("latest")
    reps = [p for p in run["points"] if " rep " in p["name"]]
    assert run["status"] == "failed" and [p["status"] for p in reps] == ["ok"] * 2 + ["killed"]
    assert reps[-1]["name"] == "slow rep 1" and "rank 1" in reps[-1]["error"]
    assert run["artifacts"]["abtest_analysis"]["complete"] is False and "busyness" in run["artifacts"]
    assert not psutil.Process().children(recursive=True) and not ours()
