"""Read a plan file's `acceptance` block into what the delivered cluster must show.

A plan is the JSON `rax plan --out` writes (schema raxlab.plan/1, see raxlab.plan). Used here:

    acceptance  workload, accelerator, server, nodes, gpus, gpus_per_node, fabric, rails,
                precision, layout {tp, pp, dp, micro_batch, global_batch, zero, grad_accum, ...},
                seq_len, projected {step_time_s, samples_per_s, tokens_per_s, memory_per_gpu_gib,
                error_band {low, high, basis}}
    recommendation.projection.terms   compute / recompute / optimizer seconds per step (for the
                per-GPU compute step); absent terms make that check N/A, never a guess
    acceptance.thresholds.rows   fabric floors: collective (all_reduce | all_to_all), ranks,
                size_bytes, projected_GBps, min_GBps (the plan's fraction of its projection at the
                planned scale, its algorithm and load regime); older plans have none
The fabric's line rate and effective fraction (with its band) come from the catalogue the
plan was made with; a plan made with an override needs the same override here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from raxlab.accept.plan_schema import check_acceptance, check_projected
from raxlab.errors import RaxError
from raxlab.workload.specfile import check_identity

SCHEMA = "raxlab.plan/1"


@dataclass
class Band:
    """Relative error of the projection: measured throughput / projected − 1 in [low, high]."""

    low: float
    high: float
    basis: str

    def time_bounds(self, t: float) -> tuple[float, float]:
        """A time x projected as t is expected in [t/(1+high), t/(1+low)] (as plan.detail)."""
        return t / (1 + self.high), t / (1 + self.low)


@dataclass
class Target:
    workload: str
    accelerator: str
    server: str | None
    nodes: int
    gpus_per_node: int
    fabric: str | None
    rails: int
    precision: str
    layout: dict
    seq_len: int | None
    projected: dict
    band: Band | None
    terms: dict = field(default_factory=dict)  # seconds per step by group (projection.terms)
    thresholds: list = field(default_factory=list)  # acceptance.thresholds.rows: fabric busbw floors
    basis: dict = field(default_factory=dict)  # comm_basis / compute_basis / made_by of the plan
    path: str = ""

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_node

    @property
    def grad_accum(self) -> int:
        lay = self.layout
        return int(lay.get("grad_accum") or max(1, lay.get("global_batch", 0) // max(
            1, lay.get("micro_batch", 1) * lay.get("dp", 1))))


def _load(path: str) -> dict:
    from raxlab.infile import MiB, read_input

    raw = read_input(path, "PLAN", limit=64 * MiB, what="plan file")  # no FIFO, device or huge file
    try:
        plan = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # json raises RecursionError on very deep nesting
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise RaxError(f"{path} is not JSON ({why}); give the file `rax plan --out` wrote", field="PLAN") from None
    if not isinstance(plan, dict) or plan.get("schema") != SCHEMA:
        got = plan.get("schema") if isinstance(plan, dict) else type(plan).__name__
        raise RaxError(f"{path}: plan schema {got!r}, expected {SCHEMA!r} (the file `rax plan --out` writes)",
                       field="PLAN")
    return plan


def _mapping(obj, where: str, path: str) -> dict:
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise RaxError(f"{path}: {where} must be a mapping, got {type(obj).__name__}", field="PLAN")
    return obj


def _number(value, where: str, path: str, *, above: float | None = None) -> float:
    """A finite JSON number (bools excluded), optionally > `above`."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (above is not None and value <= above):
        bound = f" > {above:g}" if above is not None else ""
        raise RaxError(f"{path}: {where} must be a finite number{bound}, got {value!r}", field="PLAN")
    return float(value)


def _band(proj: dict, path: str) -> Band | None:
    b = _mapping(proj.get("error_band"), "acceptance.projected.error_band", path)
    if not b:
        return None
    # a relative error of -1 or less would mean a zero or negative measured throughput
    low = _number(b.get("low"), "error_band.low", path, above=-1.0)
    high = _number(b.get("high"), "error_band.high", path, above=-1.0)
    return Band(low, high, str(b.get("basis", "")))


def _layout(acc: dict, path: str) -> dict:
    lay = dict(_mapping(acc.get("layout"), "acceptance.layout", path))
    for key in ("tp", "pp", "dp", "micro_batch", "global_batch", "grad_accum"):
        if lay.get(key) is not None:
            lay[key] = int(_number(lay[key], f"acceptance.layout.{key}", path, above=0))
    return lay


def _terms(rec: dict, path: str) -> dict:
    proj = _mapping(rec.get("projection"), "recommendation.projection", path)
    terms = _mapping(proj.get("terms"), "recommendation.projection.terms", path)
    return {k: (None if v is None else _number(v, f"terms.{k}", path)) for k, v in terms.items()
            if v is None or not isinstance(v, dict)}


THRESHOLD_KINDS = ("all_reduce", "all_to_all")


def _thresholds(acc: dict, path: str) -> list[dict]:
    """The fabric floors the plan sets (plan.fabric_verdict.thresholds); [] for older plans."""
    block = _mapping(acc.get("thresholds"), "acceptance.thresholds", path)
    rows = block.get("rows") or []
    if not isinstance(rows, list):
        raise RaxError(f"{path}: acceptance.thresholds.rows must be a list", field="PLAN")
    out = []
    for k, r in enumerate(rows):
        r = _mapping(r, f"acceptance.thresholds.rows[{k}]", path)
        if r.get("collective") not in THRESHOLD_KINDS:
            raise RaxError(f"{path}: acceptance.thresholds.rows[{k}].collective must be one of "
                           f"{', '.join(THRESHOLD_KINDS)}, got {r.get('collective')!r}", field="PLAN")
        row = {"collective": r["collective"], "name": str(r.get("name", f"fabric_{r['collective']}")),
               "basis": str(r.get("basis", "")), "algorithm": str(r.get("algorithm", "")),
               "regime": str(r.get("regime", ""))}
        row["ranks"] = int(_number(r.get("ranks"), f"thresholds.rows[{k}].ranks", path, above=0))
        for key in ("projected_GBps", "min_GBps", "size_bytes"):
            row[key] = _number(r.get(key), f"thresholds.rows[{k}].{key}", path, above=0.0)
        out.append(row)
    return out


def read_plan(path: str) -> Target:
    plan = _load(path)
    acc = _mapping(plan.get("acceptance"), "acceptance", path)
    if not acc:
        raise RaxError(f"{path} has no acceptance block (made by an older rax plan?)", field="PLAN")
    proj = _mapping(acc.get("projected"), "acceptance.projected", path)
    if "step_time_s" not in proj:
        raise RaxError(f"{path}: acceptance of inference (serving) plans is not supported yet; only training "
                       "plans project a step time", field="PLAN")
    _number(proj["step_time_s"], "acceptance.projected.step_time_s", path, above=0.0)
    check_acceptance(acc, path)  # every field typed and bounded, unknown keys refused (plan_schema)
    check_projected(proj, path)
    check_identity(acc["workload"], acc.get("workload_sha256"), path)  # the spec the plan was made for
    rec = _mapping(plan.get("recommendation"), "recommendation", path)
    try:
        nodes = int(_number(acc.get("nodes"), "acceptance.nodes", path, above=0))
        per_node = int(_number(acc.get("gpus_per_node"), "acceptance.gpus_per_node", path, above=0))
        rails = int(_number(acc.get("rails") or 0, "acceptance.rails", path, above=-1))
        return Target(str(acc["workload"]), str(acc["accelerator"]), acc.get("server"), nodes, per_node,
                      acc.get("fabric"), rails, str(acc["precision"]), _layout(acc, path), acc.get("seq_len"), proj,
                      _band(proj, path), _terms(rec, path), _thresholds(acc, path),
                      {k: rec.get(k) for k in ("comm_basis", "compute_basis")}
                      | {"made_by": plan.get("made_by", "rax plan")}, str(path))
    except KeyError as exc:
        raise RaxError(f"{path}: acceptance block lacks {exc}", field="PLAN") from None


def compute_step_s(t: Target) -> float | None:
    """Projected step of one GPU on one micro-batch without communication: forward, backward
    (and recompute) of one micro-batch, plus the optimizer step, as `rax bench ddp`'s 1-rank step."""
    if not t.terms or t.terms.get("compute") is None:
        return None
    per_mb = (t.terms["compute"] + (t.terms.get("recompute") or 0.0)) / t.grad_accum
    return per_mb + (t.terms.get("optimizer") or 0.0) + (t.terms.get("step_overhead") or 0.0)
