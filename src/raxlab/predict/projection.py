"""The result of one projection: named terms, headline figures, memory, error band.

Terms are seconds per optimizer step and add up to `step_time_s`. A term the model cannot
know (data loading without a measured loader rate) is `None` and prints as N/A rather than
as a misleading zero. Every projection carries the `error_band` of the model (relative, from
the validation against published runs and, once calibrated, the local back-test) and the
`assumptions` behind the priors it used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

GIB = 2.0**30

# How the core's fine-grained terms are grouped in reports.
COMPUTE_TERMS = ("matmul", "attention", "elementwise", "output_layer", "launch_overhead", "expert_compute")
COMM_TERMS = {"tp_comm": "tp_activation_allreduce", "pp_p2p": "pp_p2p", "dp_comm": "dp_grad_sync",
              "fsdp_comm": "zero3_fsdp_gather_scatter", "ep_all_to_all": "ep_dispatch_combine_all_to_all",
              "etp_comm": "expert_tp_gather_scatter",
              "expert_dp_comm": "expert_grad_sync", "cp_comm": "cp_kv_exchange"}


@dataclass
class ErrorBand:
    """Relative error of the model on throughput: a projected throughput x is expected in
    [x·(1+low), x·(1+high)] for `level` of the published runs of its slice, so the projected
    step time t in [t/(1+high), t/(1+low)] (`step_low`, `step_high`)."""

    low: float
    high: float
    median_abs: float
    basis: str
    n: int = 0  # validation rows behind the band
    slice: str = ""  # generation/layout family it was taken from
    validated: bool = True  # False: fewer than errorband.MIN_ROWS rows, the widest band
    level: float = 0.8

    @property
    def step_low(self) -> float:
        return 1.0 / (1.0 + self.high) - 1.0

    @property
    def step_high(self) -> float:
        return 1.0 / (1.0 + self.low) - 1.0

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "step_low": self.step_low, "step_high": self.step_high,
                "median_abs": self.median_abs, "basis": self.basis, "n": self.n, "slice": self.slice,
                "validated": self.validated, "level": self.level, "applies_to": "throughput"}


@dataclass
class Projection:
    kind: str  # "train" | "infer"
    step_time_s: float
    tokens_per_s: float | None
    samples_per_s: float
    tflops_per_gpu: float | None  # model FLOPs (no recompute) per second per GPU
    mfu: float | None
    memory_gib: dict[str, float]
    fits: bool
    terms: dict[str, float | None]
    error_band: ErrorBand | None
    assumptions: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)  # layout, hardware, precision, ...

    @property
    def memory_per_gpu_gib(self) -> float:
        return self.memory_gib["total"]

    def grouped_terms(self) -> dict[str, Any]:
        """Terms grouped for reports: compute by op class, exposed communication by kind."""
        t = self.terms
        by_class = {k: t[k] for k in COMPUTE_TERMS if k in t}
        out: dict[str, Any] = {"compute": sum(by_class.values()), "compute_by_class": by_class,
                               "recompute": (t.get("recompute") or 0.0) + t["expert_recompute"]
                               if "expert_recompute" in t else t.get("recompute"),
                               "communication": {v: t[k] for k, v in COMM_TERMS.items() if k in t},
                               "bubble": t.get("bubble")}
        for k in ("optimizer", "step_overhead", "data_loading"):
            out[k] = t.get(k)
        if "expert_optimizer" in t:  # MoE: the routed experts' optimizer step
            out["optimizer"] = (out["optimizer"] or 0.0) + t["expert_optimizer"]
        return out

    def to_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind, "step_time_s": self.step_time_s, "tokens_per_s": self.tokens_per_s,
             "samples_per_s": self.samples_per_s, "tflops_per_gpu": self.tflops_per_gpu, "mfu": self.mfu,
             "memory_per_gpu_gib": self.memory_per_gpu_gib, "memory_gib": self.memory_gib, "fits": self.fits,
             "terms": self.grouped_terms(), "terms_s": self.terms,
             "error_band": self.error_band.to_dict() if self.error_band else None,
             "assumptions": list(self.assumptions), **self.context}
        return _clean(d)


def _clean(obj):
    """JSON-safe: numpy scalars to float, NaN/inf to None (printed N/A)."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def fmt(v: float | None, unit: str = "", digits: int = 4) -> str:
    """A number for humans, or N/A (`raxlab.fmt.g`; `unit` as written after the number)."""
    from raxlab import fmt as _fmt

    return _fmt.g(v, digits, unit.strip())
