"""The answer of a plan, short: what to buy, what it costs, how long to the target, and the
network / precision / accelerator verdicts with how sure they are. `rax run` ends with it in the
terminal (above the report path) and returns it under "answer" with `--json`.

Built from the plan document alone (`rax plan --json`), so it never says more than the plan does.
"""

from __future__ import annotations


def answer(plan: dict | None) -> dict | None:
    if not plan or not plan.get("recommendation"):
        return None
    rec, obj, verdicts = plan["recommendation"], plan.get("objective") or {}, plan.get("verdicts") or {}
    band = (rec.get("projection") or {}).get("error_band")
    return {
        "status": rec.get("status"), "meets_targets": bool(rec.get("meets_targets")), "basis": rec.get("basis"),
        "buy": {k: rec.get(k) for k in ("nodes", "server", "gpus", "accelerator", "fabric", "rails", "nic", "precision")},
        "cost": {"capex_usd": rec.get("capex_usd"), "tco_usd": rec.get("tco_usd"),
                 "horizon_years": (obj.get("tco") or {}).get("years"), "cost_per_unit": rec.get("cost_per_unit"),
                 "cost_per_unit_label": rec.get("cost_per_unit_label") or obj.get("cost_per_unit"),
                 "label": ((rec.get("provenance") or {}).get("capex_usd") or {}).get("label")},
        "time_to_target": {"s": rec.get("time_to_target_s"), "band_s": rec.get("time_to_target_band_s"),
                           "deadline_s": obj.get("deadline_s"), "label": "projected", "error_band": band},
        "serving": _serving(rec),
        "verdicts": {name: _verdict(verdicts.get(name) or {}) for name in ("network", "precision", "accelerator")},
        "missing": rec.get("missing"),
        "guideline": list(plan.get("guideline") or []),
    }


def _verdict(v: dict) -> dict:
    keep = ("decision", "recommended", "recommended_fabric", "recommended_rails", "basis", "tie_threshold",
            "tie_basis", "confidence")
    return {"sentence": v.get("sentence"), **{k: v[k] for k in keep if k in v}}


def _serving(rec: dict) -> dict | None:
    lay = rec.get("layout") or {}
    if "replicas" not in lay:
        return None
    return {"replicas": lay.get("replicas"), "tp": lay.get("tp"), "batch": lay.get("batch"),
            "p99_latency_s": rec.get("p99_latency_s"), "rate_rps": rec.get("rate")}
