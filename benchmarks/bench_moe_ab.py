"""The fabric A/B on a MoE model: expert-parallel all-to-all against a dense model of equal active size.

Two `rax abtest` runs over emulated 4 vs 1 gbit links (2 ranks, gloo, one rank per namespace,
tbf-shaped veths), each the sequential paired design (rounds of one 3-step repetition per arm,
looks from 4 rounds, at most 20 rounds or MAX_MINUTES; measure/abtest.py):
- moe: tiny-moe (8 experts of width 32, top-4, 2 blocks, hidden 64) under expert parallel EP 2,
  micro-batch 16 x 64 tokens per rank: the dispatch/combine all-to-all (forward and backward)
  moves 4 x 1024 x 4 x 64 fp32 per block and rank, half of it to the other rank (4.2 MB per step
  and rank), plus a 0.3 MB dense gradient all-reduce;
- dense: tiny-moe-dense, the same decoder with one SwiGLU MLP of width 128 = 4 x 32 (115,008
  vs 115,712 active parameters): only its 0.46 MB gradient all-reduce crosses the link.
Per case and arm, all measured: the median step, compute (no_sync step less its all-to-all),
the exposed-communication share (1 - compute / step), the all-to-all seconds inside the calls
(MoE), beside the ideal time of the bytes at the link rate (MoE: the off-rank all-to-all bytes of
one rank; dense: the 2-rank ring all-reduce, each rank sends S; nccl-tests PERFORMANCE.md), the
decision (pays / tie / inconclusive, raxlab.equivalence) with its ratio and interval, the rounds
it took and the wall time of the A/B run. Needs root.

    rax abtest tiny-moe --arm fast=emulate:4gbit --arm slow=emulate:1gbit --reps 20 --max-minutes 2.5
    rax abtest tiny-moe-dense --arm fast=emulate:4gbit --arm slow=emulate:1gbit --reps 20 --max-minutes 2.5
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

TITLE = "MoE fabric A/B (expert parallel vs dense twin, emulated 4 vs 1 gbit): exposed communication, verdict"
TARGET = ("at 1 gbit the MoE's exposed-communication share >= 1.5 x the dense twin's and its measured all-to-all >= "
          "1.5 x its 4 gbit all-to-all; the MoE A/B decides 'pays'; the dense one as measured; each A/B run <= "
          "180 s wall on 2 shared cores")
ARMS = ["fast=emulate:4gbit", "slow=emulate:1gbit"]
CASES = {"moe": "tiny-moe", "dense": "tiny-moe-dense"}
REPS, MIN_REPS, MAX_MINUTES = 20, 4, 2.5
WALL_TARGET_S = 180.0
FP32 = 4


def _ideal_s(case: str, wl, setup: dict, gbit: float) -> float:
    """Seconds the bytes one rank sends over its link need at the line rate."""
    rate = gbit * 1e9 / 8
    if case == "dense":
        return setup["grad_bytes"] / rate  # 2-rank ring all-reduce: each rank sends S
    moe, ep = wl.layer_shape["moe"], setup["ep"]
    copies = setup["batch_per_rank"] * wl.tokens_per_sample * moe["top_k"]
    exchanges = 4 * ep["moe_blocks"]  # dispatch, combine and their gradients per block
    off = copies * wl.layer_shape["hidden"] * FP32 * exchanges * (ep["degree"] - 1) / ep["degree"]
    return (off + setup["grad_bytes"]) / rate


def _case(case: str, db: str) -> tuple[list[dict], dict]:
    from raxlab.measure.abtest import AbOptions, run_abtest
    from raxlab.measure.abtest_arms import parse_arms
    from raxlab.measure.ddp_options import DdpOptions
    from raxlab.store import Store
    from raxlab.workload import load_workload

    t0 = time.perf_counter()
    run = run_abtest(DdpOptions(CASES[case], timeout_s=120).validate(), parse_arms(ARMS),
                     AbOptions(reps=REPS, min_reps=MIN_REPS, max_minutes=MAX_MINUTES, steps=3), ranks=2, store=db)
    wall = time.perf_counter() - t0
    v, arms = run.analysis["verdict"] or {}, run.analysis["arms"]
    setup = next(iter(Store(db).get_run(run.run_id)["artifacts"]["abtest_setup"].values()))
    wl = load_workload(CASES[case])
    c = (v.get("comparisons") or [{}])[0]
    rows = []
    for arm, gbit in (("fast", 4), ("slow", 1)):
        a = arms[arm]
        rows.append({"case": f"{case} ({CASES[case]})", "arm": f"{arm} ({gbit} gbit)",
                     "median_step_ms": a["median_s"] * 1e3, "compute_ms": _ms(a.get("compute_s")),
                     "exposed_comm_share": a.get("exposed_comm_share"), "a2a_ms": _ms(a.get("exposed_a2a_s")),
                     "ideal_link_ms": _ideal_s(case, wl, setup, gbit) * 1e3, "decision": v.get("decision"),
                     "ratio": c.get("ratio"), "interval": "-".join(f"{x:.3f}" for x in c.get("ci") or []),
                     "rounds": a.get("reps"), "wall_s": wall})
    return rows, {"arms": arms, "wall": wall, "decision": v.get("decision")}


def _ms(v):
    return None if v is None else v * 1e3


def run() -> list[dict]:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return [{"case": "all", "note": "skipped: emulated fabrics need root (network namespaces, tc)"}]
    rows, got = [], {}
    with tempfile.TemporaryDirectory(prefix="rax-bench-moe-ab-") as tmp:
        for case in CASES:
            r, got[case] = _case(case, str(Path(tmp) / "ab.db"))
            rows += r
    moe, dense = got["moe"]["arms"], got["dense"]["arms"]
    share_ok = (moe["slow"].get("exposed_comm_share") or 0) >= 1.5 * max(dense["slow"].get("exposed_comm_share") or 0,
                                                                      1e-9)
    a2a_ok = (moe["slow"].get("exposed_a2a_s") or 0) >= 1.5 * (moe["fast"].get("exposed_a2a_s") or float("inf"))
    walls_ok = all(g["wall"] <= WALL_TARGET_S for g in got.values())
    for row in rows:
        row["pass"] = share_ok and a2a_ok and walls_ok and got["moe"]["decision"] == "pays"
    return rows
