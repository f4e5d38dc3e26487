"""The fabric A/B on emulated 1 vs 4 gbit links: exposed communication and wall time.

Two cases, each one `rax abtest` with the default design (7 repetitions per arm, 3 timed
rounds each, 1 untimed; 2 ranks, gloo, one rank per namespace over tbf-shaped veths):
- communication-heavy: a 12.8 M-parameter MLP (51 MB of fp32 gradients), batch 1, SGD;
- compute-heavy: the small CNN at width 32 (94 k parameters), batch 64, AdamW.
Per case and arm: the measured median step, the exposed-communication share
(1 - median no_sync step / median synced step), the measured exposed time beside the
ideal 2-rank ring all-reduce of the gradients at the link rate (each rank sends S:
2(n-1)/n x S / rate; nccl-tests PERFORMANCE.md), the verdict and the wall time of the
whole A/B run (start-up, warm-up, all repetitions, teardown). Needs root.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

TITLE = "Fabric A/B (DDP step, emulated 4 vs 1 gbit): exposed communication, verdict, wall time"
TARGET = ("comm-heavy: 'faster arm pays' and exposed comm >= 50 % of the 1 gbit step; compute-heavy: a tie and "
          "exposed comm < 10 % of the 1 gbit step; each A/B run <= 120 s wall on 2 shared cores")
ARMS = ["fast=emulate:4gbit", "slow=emulate:1gbit"]
WALL_TARGET_S = 120.0


def _specs(tmp: Path) -> dict[str, tuple[str, str]]:
    rows = ["a,b,c,label"] + [f"{i},{i * 0.5},{-i},{i % 3}" for i in range(64)]
    (tmp / "t.csv").write_text("\n".join(rows) + "\n")
    (tmp / "wide.yaml").write_text("name: wide-mlp\nmodel: tiny-mlp\nmodel_args: {in_features: 3, out_features: 3, "
                                   "hidden: 3584}\ndata: t.csv\nmicro_batch: 1\n")
    (tmp / "conv.yaml").write_text("name: conv-heavy\nmodel: small-cnn\nmodel_args: {num_classes: 4, in_channels: 3, "
                                   "width: 32}\ndata: shapes\nimage_size: 32\nmicro_batch: 64\n")
    return {"comm-heavy": (str(tmp / "wide.yaml"), "sgd"), "compute-heavy": (str(tmp / "conv.yaml"), "adamw")}


def _case(name: str, spec: str, optimizer: str, db: str) -> list[dict]:
    from raxlab.measure.ab_stats import PAYS, TIE
    from raxlab.measure.abtest import AbOptions, run_abtest
    from raxlab.measure.abtest_arms import parse_arms
    from raxlab.measure.ddp_options import DdpOptions
    from raxlab.store import Store

    t0 = time.perf_counter()
    run = run_abtest(DdpOptions(spec, optimizer=optimizer, timeout_s=120).validate(), parse_arms(ARMS),
                     AbOptions(), ranks=2, store=db)
    wall = time.perf_counter() - t0
    v, arms = run.analysis["verdict"], run.analysis["arms"]
    grad = next(iter(Store(db).get_run(run.run_id)["artifacts"]["abtest_setup"].values()))["grad_bytes"]
    c = v["comparisons"][0]
    want_verdict = PAYS if name == "comm-heavy" else TIE
    rows = []
    for arm, gbit in (("fast", 4), ("slow", 1)):
        a = arms[arm]
        share = a["exposed_comm_share"]
        # Judged on the 1 gbit link, where real communication would show most; the compute-heavy
        # case's true comm is ~1 % of the step, so its 4 gbit share is host noise (+-10 % seen).
        judged = arm == "slow"
        ok_share = not judged or (share >= 0.5 if name == "comm-heavy" else share < 0.10)
        rows.append({"case": name, "arm": f"{arm} ({gbit} gbit)", "median_step_ms": a["median_s"] * 1e3,
                     "exposed_comm_share": share, "exposed_comm_ms": a["exposed_comm_s"] * 1e3,
                     "ideal_allreduce_ms": grad / (gbit * 1e9 / 8) * 1e3,
                     "verdict": v["verdict"], "ratio": c["ratio"], "ci": f"{c['ci'][0]:.3f}-{c['ci'][1]:.3f}",
                     "p": c["p_value"], "wall_s": wall,
                     "pass": v["verdict"] == want_verdict and ok_share and wall <= WALL_TARGET_S})
    return rows


def run() -> list[dict]:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return [{"case": "all", "note": "skipped: emulated fabrics need root (network namespaces, tc)"}]
    rows = []
    with tempfile.TemporaryDirectory(prefix="rax-bench-ab-") as tmp:
        for name, (spec, optimizer) in _specs(Path(tmp)).items():
            rows += _case(name, spec, optimizer, str(Path(tmp) / "ab.db"))
    return rows
