"""Many explicit layouts of one workload, projected and ranked (`rax predict --tp 1,2,4 ...`).

Each combination goes through the scalar projection (`api.predict_card_training`, about half a
millisecond each), so every row has exactly the numbers and the one-line reason that a single
`rax predict` would give; rows are sorted by throughput, the ones that do not fit or cannot run
last, each with why.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

from raxlab.errors import RaxError

LAYOUT_KEYS = ("tp", "pp", "dp", "vpp", "micro_batch", "grad_accum", "zero", "recompute", "ep", "cp")


def run_sweep(combos: Iterable[Any], project: Callable[[Any], tuple[Any, float]],
              describe: Callable[[Any], dict]) -> dict:
    """Rows for each combination. `project(c)` -> (Projection, usable GiB per GPU) or raises
    RaxError (the layout cannot run); `describe(c)` -> the combination's own columns."""
    t0 = time.perf_counter()
    rows = [_row(c, project, describe) for c in combos]
    ok = sorted((r for r in rows if r["fits"]), key=_throughput, reverse=True)
    bad = [r for r in rows if not r["fits"]]
    return {"kind": "sweep", "layouts": len(rows), "fitting": len(ok), "rows": ok + bad,
            "wall_s": time.perf_counter() - t0}


def _throughput(r: dict) -> float:
    return r["tokens_per_s"] if r["tokens_per_s"] is not None else r["samples_per_s"]


def _row(c, project, describe) -> dict:
    row = dict(describe(c))
    try:
        proj, usable_gib = project(c)
    except RaxError as exc:
        return {**row, "fits": False, "why": str(exc), "step_time_s": None, "tokens_per_s": None,
                "samples_per_s": None, "tflops_per_gpu": None, "mfu": None, "memory_per_gpu_gib": None}
    d = proj.to_dict()
    row.update({k: d["layout"][k] for k in LAYOUT_KEYS})
    row.update({k: d[k] for k in ("step_time_s", "tokens_per_s", "samples_per_s", "tflops_per_gpu", "mfu",
                                  "memory_per_gpu_gib", "fits")})
    row["gpus"] = d["layout"]["tp"] * d["layout"]["pp"] * d["layout"]["cp"] * d["layout"]["dp"]
    row["error_band"] = d["error_band"]
    row["why"] = None if d["fits"] else (f"needs {d['memory_per_gpu_gib']:.3g} GiB per GPU, "
                                         f"{usable_gib:.3g} GiB usable")
    return row
