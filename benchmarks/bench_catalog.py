"""Catalogue load time and fat-tree sizing speed (the planner sizes many candidates)."""

from __future__ import annotations

import time

TITLE = "catalogue: load and fat-tree sizing"
TARGET = "load_catalog < 0.5 s; fat_tree < 50 us per call"


def run() -> list[dict]:
    from raxlab.catalog import fat_tree, load_catalog

    t0 = time.perf_counter()
    cat = load_catalog(False)
    load_s = time.perf_counter() - t0
    sizes = [(s, r, k, o) for s in (8, 64, 512, 4096) for r in (1, 4, 8, 72) for k in (32, 64, 128) for o in (1, 3)]
    t0 = time.perf_counter()
    for s, r, k, o in sizes:
        try:
            fat_tree(s, r, k, o)
        except Exception:  # beyond three tiers: also a valid (fast) answer
            pass
    per_call = (time.perf_counter() - t0) / len(sizes)
    return [
        {"case": f"load_catalog ({len(cat)} entries)", "seconds": load_s, "pass": load_s < 0.5},
        {"case": f"fat_tree ({len(sizes)} shapes)", "seconds": per_call, "pass": per_call < 50e-6},
    ]
