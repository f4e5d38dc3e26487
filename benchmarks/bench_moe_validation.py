"""Projection vs published MoE and long-context (CP) training throughput (tokens/s per GPU).

Every row of `predict/data/validation/moe_cp_public.csv` with `use_in_stats` true is projected
with the layout it publishes: the model shape from the preset the row names (the config
transformers would build), the GPU and fabric from the catalogue, TP/PP/CP/EP/VP, micro- and
global batch, precision. Settings a source does not state take the framework default and the
row's notes say so (Megatron-Core: distributed optimizer, recompute none, ETP = TP, EP
all-to-all in line, CP ring). Rows whose MoE benchmarks force-balance the routing are projected
with imbalance 1.0 — a setting of the run, not a fitted number. Nothing here is fitted: the
projection uses the priors only, and these rows only judge it.

Error = projected / published − 1 on tokens/s per GPU. Per slice (moe, cp): n, median |error|,
median signed error, max |error|, and band coverage (the share of rows whose published value
lies inside the projection's own error band). Targets as for the dense rows, applied once a
slice has >= 10 rows: median |error| <= 8 %, max <= 20 %, |median signed| <= 3 %.
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from raxlab.predict.adapter import hardware_from_catalog
from raxlab.predict.api import predict_training
from raxlab.predict.layout import Layout
from raxlab.shape import TransformerShape, shape_from_layer_shape

TITLE = "Projection vs published MoE / long-context training (tokens/s per GPU)"
TARGET = "per slice (moe, cp) with >= 10 rows: median |error| <= 8 %, max <= 20 %, |median signed| <= 3 %"
CSV = Path(__file__).resolve().parents[1] / "src" / "raxlab" / "predict" / "data" / "validation" / "moe_cp_public.csv"
SERVERS = {"h100-sxm": "hgx-h100-8gpu", "b200-sxm": "hgx-b200-8gpu"}
MIN_ROWS = 10
LIMITS = {"median_abs": 0.08, "max_abs": 0.20, "median_signed": 0.03}


@dataclass
class Case:
    row: dict
    shape: TransformerShape
    layout: Layout
    imbalance: float | None

    @property
    def published(self) -> float:
        return float(self.row["tokens_per_s_per_gpu"])


def rows() -> list[dict]:
    with CSV.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@lru_cache(maxsize=None)
def _preset_shape(preset: str, params_b: float) -> TransformerShape:
    """The preset's shape; for a dense config the MLP reading (gated or not) whose parameter count
    is nearer the row's published total (the layer shape does not say, as in `shape_from_card`)."""
    from raxlab.workload import load_workload

    ls = load_workload(preset).layer_shape
    if ls.get("gated_mlp") is not None:
        return shape_from_layer_shape(ls)
    options = [shape_from_layer_shape(ls, gated_mlp=g) for g in (False, True)]
    return min(options, key=lambda s: abs(s.params - params_b * 1e9))


def _int(r: dict, key: str, default: int = 1) -> int:
    return int(r[key]) if r.get(key) not in (None, "", "n/a") else default


def case(r: dict) -> Case:
    shape = replace(_preset_shape(r["preset"], float(r["params_B_total"])), seq=int(r["seq_len_tokens"]))
    lay = Layout(tp=_int(r, "tp"), pp=_int(r, "pp"), dp=_int(r, "dp"), cp=_int(r, "cp"), ep=_int(r, "ep"),
                 etp=_int(r, "etp") if r.get("etp") else None, vpp=_int(r, "vpp"), micro_batch=_int(r, "micro_batch"),
                 global_batch=_int(r, "global_batch_sequences"), zero=_int(r, "zero", 0),
                 recompute=r.get("recompute") or "none", sequence_parallel=r.get("sequence_parallel") == "true",
                 cp_comm=r.get("cp_comm") or "ring")
    forced = r.get("moe_routing", "").startswith("forced balance")
    return Case(r, shape, lay, 1.0 if forced else None)


@lru_cache(maxsize=None)
def _hardware(gpu: str, fabric: str, rails: int):
    from raxlab.catalog import load_catalog

    return hardware_from_catalog(load_catalog(), gpu=gpu, server=SERVERS.get(gpu), fabric=fabric, rails=rails)[0]


def project(c: Case):
    hw = _hardware(c.row["gpu"], c.row["fabric"], _int(c.row, "rails_per_node", 8))
    proj = predict_training(c.shape, hw, c.layout, c.row["precision"], gpus=_int(c.row, "num_gpus"),
                            moe_imbalance=c.imbalance)
    return proj, proj.tokens_per_s / c.layout.gpus


def results() -> list[tuple[Case, float, float, bool]]:
    """(case, projected tokens/s/GPU, error, published inside the projection's band) per used row."""
    out = []
    for r in rows():
        if r["use_in_stats"] != "true":
            continue
        c = case(r)
        proj, pred = project(c)
        band = proj.error_band
        inside = bool(band and pred * (1 + band.low) <= c.published <= pred * (1 + band.high))
        out.append((c, pred, pred / c.published - 1.0, inside))
    return out


def slice_summary(res) -> dict[str, dict]:
    out = {}
    for name in sorted({c.row["slice"] for c, *_ in res}):
        errs = [e for c, _, e, _ in res if c.row["slice"] == name]
        inside = [i for c, _, _, i in res if c.row["slice"] == name]
        a = [abs(e) for e in errs]
        s = {"n": len(errs), "median_abs": statistics.median(a), "median_signed": statistics.median(errs),
             "max_abs": max(a), "coverage": sum(inside) / len(inside)}
        s["pass"] = None if len(errs) < MIN_ROWS else all(
            abs(s[k]) <= lim for k, lim in LIMITS.items())
        out[name] = s
    return out


def _layout_text(lay: Layout) -> str:
    parts = [f"tp{lay.tp}", f"pp{lay.pp}", f"cp{lay.cp}", f"ep{lay.ep}", f"dp{lay.dp}"]
    return " ".join(parts) + (f" vpp{lay.vpp}" if lay.vpp > 1 else "") + f" mb{lay.micro_batch} gb{lay.global_batch}"


def run() -> list[dict]:
    res = results()
    table = [{"slice": c.row["slice"], "study": c.row["study"], "model": c.row["model"], "gpu": c.row["gpu"],
              "gpus": c.layout.gpus, "seq": c.shape.seq, "layout": _layout_text(c.layout), "prec": c.row["precision"],
              "published": round(c.published, 1), "projected": round(p, 1), "error_%": round(100 * e, 1),
              "in_band": inside} for c, p, e, inside in res]
    for name, s in slice_summary(res).items():
        verdict = s["pass"] if s["pass"] is not None else f"targets apply at >= {MIN_ROWS} rows"
        table.append({"slice": f"SLICE {name}", "gpus": s["n"], "error_%": round(100 * s["median_signed"], 1),
                      "layout": f"|e| median {100 * s['median_abs']:.1f} %, max {100 * s['max_abs']:.1f} %; "
                                f"signed median {100 * s['median_signed']:+.1f} %; band coverage "
                                f"{100 * s['coverage']:.0f} %", "in_band": verdict,
                      **({"pass": s["pass"]} if s["pass"] is not None else {})})
    skipped = [r for r in rows() if r["use_in_stats"] != "true"]
    table += [{"slice": "EXCLUDED", "study": r["study"], "model": r["model"], "layout": r["notes"][:90]} for r in skipped]
    return table
