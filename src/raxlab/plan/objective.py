"""What the plan must achieve: the workload's `targets` turned into one objective and caps.

Training / fine-tuning: process `work` units (tokens for language models, else samples;
epochs multiply) within a deadline, and/or sustain a throughput. Both reduce to a required
rate (units/s); time-to-target = work / rate. Without a deadline or throughput the plan
assumes the `deadline_days` default and says so. Inference: serve `request_rate_per_s` with
the p99 latency under `latency_p99_ms`, the p99 time to first token under `ttft_ms` and the
time per output token under `tpot_ms` (each when given).

Caps: budget (CAPEX, USD), power (kW, compared with the cluster's rated IT peak), rack
units. TCO horizon, electricity price and PUE default from `data/defaults.yaml`, labelled.
Bad or contradictory targets raise a one-line RaxError naming the `targets.<field>`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from raxlab.errors import RaxError
from raxlab.plan.defaults import default


@dataclass
class Objective:
    task: str  # train | finetune | infer
    unit: str  # tokens | samples | requests
    work: float | None  # units to process (training); None: throughput only
    deadline_s: float | None
    rate_required: float | None  # units/s from a throughput target
    tokens_per_sample: int | None
    request_rate: float | None = None  # inference: requests/s
    latency_p99_s: float | None = None
    ttft_s: float | None = None  # serving SLA: p99 time to first token
    tpot_s: float | None = None  # serving SLA: time per output token
    budget_usd: float | None = None
    power_w: float | None = None
    rack_units: float | None = None
    tco_years: float = 3.0
    electricity_usd_per_kwh: float = 0.08
    pue: float = 1.3
    assumptions: list[str] = field(default_factory=list)
    deadline_assumed: bool = False

    @property
    def inference(self) -> bool:
        return self.task == "infer"

    @property
    def needed_rate(self) -> float | None:
        """Units/s the cluster must sustain: the throughput target or work / deadline."""
        rates = [r for r in (self.rate_required,
                             self.work / self.deadline_s if self.work and self.deadline_s else None) if r]
        return max(rates) if rates else None

    @property
    def horizon_s(self) -> float:
        return self.tco_years * 365.25 * 86400.0

    @property
    def per_unit(self) -> tuple[str, float]:
        """How cost per unit of work is quoted: (label, units per quoted unit)."""
        return {"tokens": ("USD per million tokens", 1e6), "requests": ("USD per million requests", 1e6)}.get(
            self.unit, ("USD per sample", 1.0))

    def to_dict(self) -> dict:
        label, _ = self.per_unit
        return {"task": self.task, "unit": self.unit, "work": self.work, "deadline_s": self.deadline_s,
                "deadline_assumed": self.deadline_assumed, "rate_required": self.rate_required,
                "needed_rate": self.needed_rate, "tokens_per_sample": self.tokens_per_sample,
                "request_rate_per_s": self.request_rate, "latency_p99_s": self.latency_p99_s,
                "ttft_s": self.ttft_s, "tpot_s": self.tpot_s,
                "caps": {"budget_usd": self.budget_usd, "power_w": self.power_w, "rack_units": self.rack_units},
                "tco": {"years": self.tco_years, "electricity_usd_per_kwh": self.electricity_usd_per_kwh,
                        "pue": self.pue},
                "cost_per_unit": label}


def _positive(t, name: str) -> None:
    v = getattr(t, name)
    if v is not None and not v > 0:
        raise RaxError(f"must be > 0, got {v:g}", field=f"targets.{name}")


def _work(t, tps: int | None) -> tuple[str, float | None]:
    if t.tokens is not None and not tps:
        raise RaxError("this workload has no tokens per sample (not a language model); give samples",
                       field="targets.tokens")
    if tps:
        return "tokens", t.total_tokens(tps)
    return "samples", t.total_samples(tps)


def _rate(t, unit: str, tps: int | None) -> float | None:
    if t.throughput_tokens_per_s is not None:
        if not tps:
            raise RaxError("this workload has no tokens per sample; give throughput_samples_per_s",
                           field="targets.throughput_tokens_per_s")
        return t.throughput_tokens_per_s
    if t.throughput_samples_per_s is not None:
        return t.throughput_samples_per_s * (tps if unit == "tokens" else 1)
    return None


def objective_from_spec(spec, tokens_per_sample: int | None) -> Objective:
    """The objective of a WorkloadSpec (its `targets` block) for a card with `tokens_per_sample`."""
    t = spec.targets
    for name in ("tokens", "samples", "epochs", "deadline_days", "deadline_hours", "throughput_samples_per_s",
                 "throughput_tokens_per_s", "latency_p99_ms", "ttft_ms", "tpot_ms", "request_rate_per_s", "budget_usd", "power_kw",
                 "rack_units", "tco_years", "electricity_usd_per_kwh"):
        _positive(t, name)
    obj = _tco(t, Objective(task=spec.task, unit="requests", work=None, deadline_s=t.deadline_s,
                            rate_required=None, tokens_per_sample=tokens_per_sample, budget_usd=t.budget_usd,
                            power_w=t.power_w, rack_units=t.rack_units))
    if spec.task == "infer":
        return _inference(obj, t)
    for name in ("ttft_ms", "tpot_ms"):
        if getattr(t, name) is not None:
            raise RaxError(f"a serving target; this workload's task is {spec.task} (use task: infer)",
                           field=f"targets.{name}")
    obj.unit, obj.work = _work(t, tokens_per_sample)
    obj.rate_required = _rate(t, obj.unit, tokens_per_sample)
    if obj.work is None and obj.rate_required is None:
        raise RaxError("a training plan needs work (tokens or samples, with epochs) or a throughput target",
                       field="targets.tokens")
    if obj.work is not None and obj.deadline_s is None and obj.rate_required is None:
        d = default("deadline_days")
        obj.deadline_s, obj.deadline_assumed = d.value * 86400.0, True
        obj.assumptions.append(d.note("deadline", f"{d.value:g} days"))
    return obj


def _inference(obj: Objective, t) -> Objective:
    if t.request_rate_per_s is None:
        raise RaxError("an inference plan needs the request rate to serve", field="targets.request_rate_per_s")
    obj.request_rate, obj.latency_p99_s = t.request_rate_per_s, t.latency_p99_s
    obj.ttft_s = None if t.ttft_ms is None else t.ttft_ms / 1e3
    obj.tpot_s = None if t.tpot_ms is None else t.tpot_ms / 1e3
    obj.rate_required = t.request_rate_per_s
    return obj


def _tco(t, obj: Objective) -> Objective:
    """Horizon, electricity and PUE from the targets, else the labelled defaults."""
    for key, unit in (("tco_years", " years"), ("electricity_usd_per_kwh", " USD/kWh"), ("pue", "")):
        given = getattr(t, key)
        if given is None:
            d = default(key)
            given = d.value
            obj.assumptions.append(d.note(key, f"{d.value:g}{unit}"))
        if not math.isfinite(given):
            raise RaxError(f"must be finite, got {given}", field=f"targets.{key}")
        setattr(obj, key, float(given))
    return obj
