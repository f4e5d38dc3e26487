"""Collective model vs published NCCL bus bandwidth curves (predict/data/validation/nccl_busbw_public.csv).

Every row is a published nccl-tests measurement (system, GPUs, nodes, fabric, collective, size,
busbw, source). The projection prices the same collective on the catalogue's version of that
system (accelerator, server, fabric, rails) with `collectives.group_time`, from the priors only
(NCCL's tuning tables, the scale-up ring prior, rails × line rate × effective fraction, the
fabric's load regime: `ecmp-default` for rows reported untuned, the family default otherwise), and
turns the time back into busbw with the nccl-tests factor. Nothing is fitted to these rows.

Per curve: points, median |error|, median signed error (predicted / measured − 1: positive =
the model is optimistic), max |error|, and the algorithm NCCL's model picks at the largest size.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import numpy as np

from raxlab.catalog import load_catalog
from raxlab.predict import collectives
from raxlab.predict.adapter import hardware_from_catalog
from raxlab.predict.hardware import hw_consts

TITLE = "Collective model vs published NCCL busbw curves"
TARGET = "median |error| <= 25 % per curve at >= 64 MB; every curve reported (signed and max)"
DATA = Path(__file__).resolve().parents[1] / "src" / "raxlab" / "predict" / "data" / "validation" / \
    "nccl_busbw_public.csv"
LARGE = 64 * 2**20


def _rows() -> dict[str, list[dict]]:
    curves: dict[str, list[dict]] = {}
    with DATA.open(newline="") as f:
        for r in csv.DictReader(f):
            curves.setdefault(r["curve"], []).append(r)
    return curves


def _hc(cat, r: dict):
    """The row's system from the catalogue; a RoCE row reported untuned runs in `ecmp-default`."""
    multi = int(r["nodes"]) > 1
    kw = {"regime": r["regime"]} if multi and r["regime"] == "ecmp-default" else {}
    hw, _ = hardware_from_catalog(cat, gpu=r["accelerator"], server=r["server"],
                                  fabric=r["fabric"] if multi else None, rails=int(r["rails"]) if multi else None, **kw)
    return hw_consts(hw, "bf16"), hw


def predicted_busbw(cat, r: dict, sizes: np.ndarray) -> tuple[np.ndarray, str]:
    hc, _ = _hc(cat, r)
    p, k = int(r["gpus"]), int(r["gpus"]) // int(r["nodes"])
    kind = r["collective"]
    t = np.asarray(collectives.group_time(kind, sizes, p, k, hc), dtype=float)
    factor = 2 * (p - 1) / p if kind == "all_reduce" else (p - 1) / p
    choice = getattr(collectives, "group_choice", None)
    algo = str(np.asarray(choice(kind, sizes[-1:], p, k, hc))[0]) if choice else "ring (alpha-beta)"
    return sizes / t * factor / 1e9, algo


def _summary(name: str, errs: list[float], extra: dict) -> dict:
    a = [abs(e) for e in errs]
    return {"curve": name, **extra, "n": len(errs), "median_abs_err_pct": 100 * statistics.median(a),
            "median_signed_err_pct": 100 * statistics.median(errs), "max_abs_err_pct": 100 * max(a)}


def run() -> list[dict]:
    cat = load_catalog()
    out, all_errs, large_errs = [], [], []
    for name, rows in _rows().items():
        sizes = np.array([float(r["size_bytes"]) for r in rows])
        meas = np.array([float(r["busbw_GBps"]) for r in rows])
        pred, algo = predicted_busbw(cat, rows[0], sizes)
        errs = list(pred / meas - 1.0)
        big = [e for e, s in zip(errs, sizes) if s >= LARGE]
        all_errs += errs
        large_errs += big
        row = _summary(name, errs, {"gpus": int(rows[0]["gpus"]), "fabric": rows[0]["fabric"] or "NVLink",
                                    "regime": rows[0]["regime"] or "-", "algo_at_largest": algo})
        row["median_abs_err_large_pct"] = 100 * statistics.median([abs(e) for e in big]) if big else None
        row["pass"] = row["median_abs_err_large_pct"] is None or row["median_abs_err_large_pct"] <= 25.0
        out.append(row)
    out.append({**_summary("ALL points", all_errs, {}), "pass": None})
    out.append({**_summary("ALL points >= 64 MB", large_errs, {}), "pass": None})
    return out
