"""Serving in the field's terms: TTFT / TPOT service levels and the tokens/s/GPU vs tokens/s/user front.

Per candidate replica (accelerator x server x precision, tensor-parallel width, decode batch) the
serving grid (plan/serve.py) holds the projected prefill time of the batch, the time per output
token (TPOT, one decode step at the mean context) and the request latency. Under load:

- TTFT (p99) = the prefill of its batch + one in-flight prefill a request waits for before it is
  admitted: the same rule serve.py applies to the p99 request latency (continuous batching).
- tokens/s per GPU = batch x generated tokens / request latency / tp (the cost side);
  tokens/s per user = 1 / TPOT (the speed one stream sees).

A point meets the SLA when it fits in memory and every bound given (`ttft_ms`, `tpot_ms`,
`latency_p99_ms`) holds. Its Pareto front keeps the points no other point beats on both
throughputs (>= on both and > on one): the trade-off a serving team picks from (bigger batches
buy tokens/s per GPU with tokens/s per user). All of it is projected: inference has no published
validation yet, so no error band (N/A), and the block says so.
"""

from __future__ import annotations

import math

import numpy as np

BAND_NOTE = "N/A: inference projections have no published validation yet, so no error band"
MAX_POINTS = 40


def ttft_p99(prefill_s):
    """p99 time to first token: one in-flight prefill waited for, then the request's own."""
    return 2.0 * np.asarray(prefill_s, float)


def meets_sla(fits, *, p99=None, ttft=None, tpot=None, obj=None) -> np.ndarray:
    """Boolean per point: fits in memory and under every bound of `obj` that is given."""
    ok = np.asarray(fits, bool).copy()
    for value, bound in ((p99, getattr(obj, "latency_p99_s", None)), (ttft, getattr(obj, "ttft_s", None)),
                         (tpot, getattr(obj, "tpot_s", None))):
        if bound:
            ok &= np.asarray(value, float) <= bound
    return ok


def front(x, y) -> list[int]:
    """Indices of the points not dominated when both x and y are to be maximised, by x descending.

    p dominates q when x_p >= x_q and y_p >= y_q with one strict; equal points do not dominate
    each other, so exact duplicates are all kept."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep: list[int] = []
    best = -math.inf
    for j in np.lexsort((-y, -x)):
        j = int(j)
        if y[j] > best or (keep and x[j] == x[keep[-1]] and y[j] == y[keep[-1]]):
            keep.append(j)
            best = max(best, float(y[j]))
    return keep


def sla_block(obj) -> dict:
    return {"ttft_p99_s": obj.ttft_s, "tpot_s": obj.tpot_s, "latency_p99_s": obj.latency_p99_s,
            "request_rate_per_s": obj.request_rate}


def serving_block(grid: dict, space, obj, *, prompt: int, gen: int, pick: tuple | None) -> dict:
    """The plan's `serving` block: SLA, the front of the points meeting it, the recommendation's place
    (`pick` = accelerator, server, precision, tp, batch of the recommendation)."""
    out = {"label": "projected", "error_band": None, "band": BAND_NOTE, "sla": sla_block(obj),
           "prompt_tokens": int(prompt), "gen_tokens": int(gen),
           "definitions": {"ttft_p99_s": "prefill of the batch + one in-flight prefill waited for",
                           "tpot_s": "one decode step at the mean context", "tokens_per_s_per_gpu":
                           "batch x generated tokens / request latency / tp", "tokens_per_s_per_user": "1 / TPOT"}}
    if grid is None:
        return {**out, "pareto": None, "pareto_recommended_design": None}
    names = [(b.acc.name, b.srv.name, b.precision) for b in space.bases]
    design = np.array([names[int(k)] == tuple(pick[:3]) for k in grid["base"]]) if pick else np.zeros(0, bool)
    return {**out, "pareto": _front_block(grid, space, grid["ok"], pick),
            "pareto_recommended_design": _front_block(grid, space, grid["ok"] & design, pick) if pick else None}


def _front_block(grid: dict, space, mask, pick) -> dict:
    ok = np.flatnonzero(mask)
    idx = [int(ok[k]) for k in front(grid["per_gpu"][ok], grid["per_user"][ok])] if len(ok) else []
    total = len(idx)
    if total > MAX_POINTS:  # an even spread along the front, both ends kept
        idx = [idx[k] for k in np.unique(np.linspace(0, total - 1, MAX_POINTS).round().astype(int))]
    pts = [_point(grid, space, j, pick) for j in idx]
    return {"axes": ["tokens_per_s_per_gpu", "tokens_per_s_per_user"], "points": pts, "points_on_front": total,
            "shown": len(pts), "candidates": int(np.size(mask)), "meeting_sla": int(len(ok)),
            "recommended_on_front": any(p["recommended"] for p in pts)}


def _point(grid: dict, space, j: int, pick: tuple | None) -> dict:
    base = space.bases[int(grid["base"][j])]
    key = (base.acc.name, base.srv.name, base.precision, int(grid["tp"][j]), int(grid["batch"][j]))
    return {"accelerator": key[0], "server": key[1], "precision": key[2], "tp": key[3], "batch": key[4],
            "tokens_per_s_per_gpu": float(grid["per_gpu"][j]), "tokens_per_s_per_user": float(grid["per_user"][j]),
            "ttft_p99_s": float(grid["ttft_p99"][j]), "tpot_s": float(grid["tpot"][j]),
            "p99_latency_s": float(grid["p99"][j]), "memory_per_gpu_gib": float(grid["memory"][j]) / 2**30,
            "recommended": key == pick}
