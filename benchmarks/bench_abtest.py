"""Fabric A/B on emulated leaf-spine fabrics: decisions, wall time, and busbw through shared uplinks.

Fabrics: 4 emulated nodes (one gloo rank each) on 2 leaves with 1 gbit NICs; FLAT has
non-blocking uplinks (2 gbit), TAPER 0.5 gbit uplinks (4:1). Needs root.

1. busbw through a shared uplink: `rax bench comm` all-reduce and all-to-all (peak busbw over
   4-16 MiB) on both fabrics, beside the fair-share bound of the tiers
   (`Topology.busbw_bound_bps`: ring all-reduce <= min(nic, uplink); all-to-all limited by the
   nodes-per-leaf x remote-nodes flows sharing each uplink).
2. The three A/B cases of tests/measure/test_abtest.py with the same models and designs:
   (a) comm-heavy MLP (4.2 MB of gradients): pays; (b) compute-heavy CNN (25 KB of gradients,
   which fit in every tbf bucket): a proven tie on a quiet machine (inconclusive, never a
   difference, when other work loads it); (c) the same while six burners spin and rest together:
   inconclusive. Per case: decision, ratio and interval, pairs, pair noise, the load stretch,
   other work on the machine, wall time of the whole `rax abtest` run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TITLE = "Fabric A/B on emulated leaf-spine fabrics: decisions, wall time, busbw vs fair share"
TARGET = ("busbw >= 0.8 of the fair-share bound where a shared uplink binds; (a) pays, (b) tie (inconclusive allowed "
          "only on a busy machine), (c) inconclusive; each A/B <= 90 s wall on 2 cores")
FLAT = "flat=emulate:nodes=4,leaves=2,nic=1gbit"
BURNERS = 6  # with the 4 ranks on 2 cores, 6 spinning processes make a step ~2.5x slower while they run
TAPER = "taper=emulate:nodes=4,leaves=2,nic=1gbit,leaf=4:1"
MiB = 2**20
WALL_TARGET_S = 90.0
SHARE_TARGET = 0.8


def _busbw_rows(db: str) -> list[dict]:
    from raxlab.measure.comm.driver import run_comm
    from raxlab.measure.comm.options import SweepOptions
    from raxlab.netemu import parse_topology

    rows = []
    for arm in (FLAT, TAPER):
        name, spec = arm.split("=emulate:")
        topo = parse_topology(spec)
        sweep = SweepOptions(collectives="all_reduce,all_to_all", min_bytes=4 * MiB, max_bytes=16 * MiB, iters=5,
                             warmup=1, timeout_s=120).validate()
        fits = {f["collective"]: f for f in run_comm(sweep, ranks=4, emulate=spec, store=db).fits}
        for coll in ("all_reduce", "all_to_all"):
            bound = topo.busbw_bound_bps(coll) / 8e9
            got = fits[coll]["beta_GBps"]
            row = {"case": f"busbw {coll}", "fabric": f"{name}: uplinks {topo.to_dict()['uplink']} ({topo.to_dict()['leaf']})",
                   "busbw_GBps": got, "fair_share_GBps": bound, "of_fair_share": got / bound}
            if bound < topo.nic_bps / 8e9:  # judged where the shared uplink, not the node's own link, binds
                row["pass"] = got >= SHARE_TARGET * bound
            else:
                row["note"] = "the NIC binds, not a shared uplink: not judged"
            rows.append(row)
    return rows


def _specs(tmp: Path) -> dict[str, str]:
    rows = ["a,b,c,label"] + [f"{i},{i * 0.5},{-i},{i % 3}" for i in range(64)]
    (tmp / "t.csv").write_text("\n".join(rows) + "\n")
    (tmp / "wide.yaml").write_text("name: wide-mlp\nmodel: tiny-mlp\nmodel_args: {in_features: 3, out_features: 3, "
                                   "hidden: 1024}\ndata: t.csv\nmicro_batch: 1\n")
    (tmp / "conv.yaml").write_text("name: conv-heavy\nmodel: small-cnn\nmodel_args: {num_classes: 4, in_channels: 3, "
                                   "width: 8}\ndata: shapes\nimage_size: 32\nmicro_batch: 64\n")
    return {"mlp": str(tmp / "wide.yaml"), "cnn": str(tmp / "conv.yaml")}


def _burner(seconds: float, seed: int) -> subprocess.Popen:
    code = ("import random,sys,time\nr=random.Random(int(sys.argv[2]));end=time.monotonic()+float(sys.argv[1])\n"
            "while time.monotonic()<end:\n d=r.uniform(0.1,0.4);t=time.monotonic()+d\n"
            " if r.random()<0.5:\n  while time.monotonic()<t: pass\n else: time.sleep(d)")
    return subprocess.Popen([sys.executable, "-c", code, str(seconds), str(seed)])


def _ab(case: str, spec: str, db: str) -> dict:
    from raxlab.measure.abtest import AbOptions, run_abtest
    from raxlab.measure.abtest_arms import parse_arms
    from raxlab.measure.ddp_options import DdpOptions

    comm = case.startswith("(a)")
    opts = DdpOptions(spec, optimizer="sgd" if comm else "adamw", warmup=2, timeout_s=120, split=comm).validate()
    ab = AbOptions(reps=20 if comm else 80, min_reps=4, max_minutes={"(a)": 1.5, "(b)": 0.75, "(c)": 0.4}[case[:3]],
                   steps=2, rep_warmup=0)
    burners = [_burner(40, 7) for _ in range(BURNERS)] if case.startswith("(c)") else []  # in lockstep
    t0 = time.perf_counter()
    try:
        run = run_abtest(opts, parse_arms([FLAT, TAPER], ranks=4), ab, ranks=4, store=db)
    finally:
        for b in burners:
            b.kill()
            b.wait()
    wall = time.perf_counter() - t0
    v, busy = run.analysis["verdict"], run.analysis["busyness"] or {}
    c = v["comparisons"][0]
    want = {"(a)": ("pays",), "(b)": ("tie",) if not busy.get("busy") else ("tie", "inconclusive"),
            "(c)": ("inconclusive",)}[case[:3]]
    return {"case": case, "decision": v["decision"], "ratio": c["ratio"], "interval": f"{c['ci'][0]:.3f}-{c['ci'][1]:.3f}",
            "pairs": c["n_pairs"], "pair_noise": c["noise_cv"], "load_stretch": c["load_stretch"],
            "others_cores": busy.get("others_cores_mean"), "more_pairs": c["more_pairs"], "wall_s": wall,
            "pass": v["decision"] in want and wall <= WALL_TARGET_S}


def run() -> list[dict]:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return [{"case": "all", "note": "skipped: emulated fabrics need root (network namespaces, tc)"}]
    with tempfile.TemporaryDirectory(prefix="rax-bench-ab-") as tmp:
        db = str(Path(tmp) / "ab.db")
        rows = _busbw_rows(db)
        specs = _specs(Path(tmp))
        for case, spec in (("(a) comm-heavy", specs["mlp"]), ("(b) compute-heavy", specs["cnn"]),
                           ("(c) compute-heavy + burners", specs["cnn"])):
            rows.append(_ab(case, spec, db))
    return rows
