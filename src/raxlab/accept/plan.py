"""Read a plan file's `acceptance` block into what the delivered cluster must show.

A plan is the JSON `rax plan --out` writes (schema raxlab.plan/1, see raxlab.plan). Used here:

    acceptance  workload, accelerator, server, nodes, gpus, gpus_per_node, fabric, rails,
                precision, layout {tp, pp, dp, micro_batch, global_batch, zero, grad_accum, ...},
                seq_len, projected {step_time_s, samples_per_s, tokens_per_s, memory_per_gpu_gib,
                error_band {low, high, basis}}
    recommendation.projection.terms   compute / recompute / optimizer seconds per step (for the
                per-GPU compute step); absent terms make that check N/A, never a guess
The fabric's line rate and effective fraction (with its band) come from the catalogue the
plan was made with; a plan made with an override needs the same override here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from raxlab.errors import RaxError

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
    try:
        plan = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RaxError(f"cannot read plan {path}: {exc.strerror}", field="PLAN") from None
    except ValueError as exc:
        raise RaxError(f"{path} is not JSON ({exc}); give the file `rax plan --out` wrote", field="PLAN") from None
    if not isinstance(plan, dict) or plan.get("schema") != SCHEMA:
        got = plan.get("schema") if isinstance(plan, dict) else type(plan).__name__
        raise RaxError(f"{path}: plan schema {got!r}, expected {SCHEMA!r} (the file `rax plan --out` writes)",
                       field="PLAN")
    return plan


def _band(proj: dict) -> Band | None:
    b = proj.get("error_band")
    return Band(float(b["low"]), float(b["high"]), str(b.get("basis", ""))) if b else None


def read_plan(path: str) -> Target:
    plan = _load(path)
    acc = plan.get("acceptance")
    if not acc:
        raise RaxError(f"{path} has no acceptance block (made by an older rax plan?)", field="PLAN")
    proj = acc.get("projected") or {}
    if "step_time_s" not in proj:
        raise RaxError(f"{path}: acceptance of inference (serving) plans is not supported yet; only training "
                       "plans project a step time", field="PLAN")
    rec = plan.get("recommendation") or {}
    terms = ((rec.get("projection") or {}).get("terms")) or {}
    try:
        return Target(str(acc["workload"]), str(acc["accelerator"]), acc.get("server"), int(acc["nodes"]),
                      int(acc["gpus_per_node"]), acc.get("fabric"), int(acc.get("rails") or 0),
                      str(acc["precision"]), dict(acc.get("layout") or {}), acc.get("seq_len"), proj,
                      _band(proj), terms, {k: rec.get(k) for k in ("comm_basis", "compute_basis")}
                      | {"made_by": plan.get("made_by", "rax plan")}, str(path))
    except (KeyError, TypeError, ValueError) as exc:
        raise RaxError(f"{path}: acceptance block lacks or mangles {exc}", field="PLAN") from None


def compute_step_s(t: Target) -> float | None:
    """Projected step of one GPU on one micro-batch without communication: forward, backward
    (and recompute) of one micro-batch, plus the optimizer step, as `rax bench ddp`'s 1-rank step."""
    if not t.terms or t.terms.get("compute") is None:
        return None
    per_mb = (t.terms["compute"] + (t.terms.get("recompute") or 0.0)) / t.grad_accum
    return per_mb + (t.terms.get("optimizer") or 0.0) + (t.terms.get("step_overhead") or 0.0)
