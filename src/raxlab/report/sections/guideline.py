"""The purchase guideline on one screen: what to buy, what it costs, how long it takes, the
network and precision verdicts, and how sure the model is."""

from __future__ import annotations

import shlex

from raxlab.report import fmt
from raxlab.report.doc import Bullets, Cell, Facts, Label, Para, Section
from raxlab.report.model import ReportData
from raxlab.report.sections.backtest import held_out_error
from raxlab.report.sections import distributed
from raxlab.report.sections.common import band_text, get, projected, with_band
from raxlab.report.sections.fabric import plan_band

# The planner's basis words, for a reader who has not met them.
BASIS = {"prior": "published priors (not calibrated here)", "calibrated": "calibrated on your measurements",
         "measured": "your measured fabric"}
VERDICTS = (("network", "Network"), ("precision", "Precision"), ("accelerator", "Accelerator"), ("scale", "Scale"))


def _buy(rec: dict) -> str:
    return (f"{fmt.text(rec.get('nodes'))} x {fmt.text(rec.get('server'))} "
            f"({fmt.text(rec.get('gpus'))} x {fmt.text(rec.get('accelerator'))})")


def _net(rec: dict) -> str:
    if not rec.get("fabric"):
        return "none: one node, no scale-out fabric"
    rails = rec.get("rails")
    nic = f" ({rec['nic']})" if rec.get("nic") else ""
    return f"{rec['fabric']}, {fmt.text(rails)} NIC rail{'s' if rails != 1 else ''} per node{nic}"


def _layout(lay) -> str:
    if not isinstance(lay, dict):
        return fmt.text(lay)
    keys = ("tp", "pp", "dp", "zero", "micro_batch", "global_batch", "recompute")
    return ", ".join(f"{k}={lay[k]}" for k in keys if k in lay)


def _confidence(data: ReportData, rec: dict, band: dict | None) -> Para:
    """How sure the projection is: the band, the back-test here and what the speeds rest on."""
    parts = [band_text(band)]
    mae = held_out_error(data.calibration)
    if mae is not None:
        parts.append(f"back-test here: median |error| {fmt.pct(mae)}")
    parts.append(f"compute speed: {BASIS.get(rec.get('compute_basis'), rec.get('compute_basis') or 'N/A')}")
    if rec.get("fabric"):
        parts.append(f"network: {BASIS.get(rec.get('comm_basis'), rec.get('comm_basis') or 'N/A')}")
    basis = str((band or {}).get("basis") or "").split(" (")[0]  # the full provenance is in the projections section
    return Para(f"Confidence: {'; '.join(parts)}" + (f" (band from {basis})." if basis else "."), "note")


def facts(data: ReportData, rec: dict) -> Facts:
    band = plan_band(data.plan)
    proj = projected(band, "plan recommendation", short=True)
    cost = Label("projected", "catalogue prices, itemised in the catalogue section")
    obj = get(data.plan, "objective") or {}
    unit = obj.get("unit") or "units"
    label = rec.get("cost_per_unit_label") or obj.get("cost_per_unit") or "per unit of work"
    years = fmt.num(get(obj, "tco", "years"))
    rate = lambda v: f"{fmt.si(v, '')} {unit}/s"  # noqa: E731
    return Facts([
        ("Buy", Cell(_buy(rec))),
        ("Interconnect", Cell(_net(rec))),
        ("Precision", Cell(fmt.text(rec.get("precision")))),
        ("Parallel layout", Cell(_layout(rec.get("layout")))),
        ("Time to target", Cell(with_band(rec.get("time_to_target_s"), band, fmt.seconds, rec.get("time_to_target_band_s"), time=True),
                                proj, fmt.num(rec.get("time_to_target_s")))),
        ("Throughput", Cell(with_band(rec.get("rate"), band, rate), proj, fmt.num(rec.get("rate")))),
        ("CAPEX", Cell(fmt.usd(rec.get("capex_usd")), cost, fmt.num(rec.get("capex_usd")))),
        (f"TCO{f' over {years:g} years' if years else ''}", Cell(fmt.usd(rec.get("tco_usd")), cost, fmt.num(rec.get("tco_usd")))),
        (label.replace("USD", "Cost, USD"), Cell(fmt.g(rec.get("cost_per_unit"), 3), cost, fmt.num(rec.get("cost_per_unit")))),
        ("Power (IT, average)", Cell(fmt.g(rec.get("it_power_kw"), 3, "kW"), proj, fmt.num(rec.get("it_power_kw")))),
    ])


def _verdicts(plan: dict) -> list[Para]:
    out = []
    for key, title in VERDICTS:
        v = get(plan, "verdicts", key)
        sentence = v.get("sentence") if isinstance(v, dict) else v if isinstance(v, str) else None
        basis = v.get("basis", "projected") if isinstance(v, dict) else "projected"
        out.append(Para(f"{title} ({basis}): {sentence}" if sentence else f"{title}: no verdict in the plan (N/A).",
                        "verdict" if sentence else "missing"))
    return out


def _status(rec: dict) -> Para:
    if rec.get("meets_targets", True):
        return Para("Meets every target and cap of the workload spec (projected).", "verdict")
    short = rec.get("shortfall") or {}
    miss = ", ".join(f"{k} {fmt.pct(v)} short" for k, v in short.items()) or "see the plan"
    return Para(f"No candidate meets every target: this is the nearest one ({miss}). Relax the deadline or the caps, "
                "or widen the catalogue.", "warn")


def _no_plan(data: ReportData) -> str:
    """Why there is no guideline, and the one command that makes it."""
    stage = data.stage_info.get("plan") or {}
    why = (f"the plan stage of this run did not run ({stage.get('status')}: {stage.get('error')})"
           if stage.get("status") not in (None, "ok") else "this run has no purchase plan")
    wl = (data.workload or "WORKLOAD").removesuffix("@proxy")
    # the planner reads measurements from bench runs (their points), not from a pipeline record
    ids = [r["id"] for r in data.runs.values() if r["kind"] in ("compute", "bench.comm", "abtest")] or [data.root["id"]]
    runs = " ".join(f"--run {shlex.quote(i)}" for i in ids)
    # a copied command must not run shell code hidden in a workload name
    return (f"No guideline yet: {why}. This report shows what was measured. Make the plan from these measurements "
            f"with `rax plan {shlex.quote(wl)} {runs}`, or run everything with `rax run`.")


def build(data: ReportData) -> Section:
    sec = Section("guideline", "Purchase guideline")
    rec = get(data.plan, "recommendation")
    if not isinstance(rec, dict):
        for run in [r for k in distributed.AB_KINDS for r in data.of_kind(k)]:  # an A/B's answer comes first
            sec.add(*distributed.ab_headline(run))
        return sec.missing(_no_plan(data))
    verdicts = _verdicts(data.plan)
    shown = {get(data.plan, "verdicts", k, "sentence") for k, _ in VERDICTS}
    # the confidence sentence repeats the Confidence card
    said = [str(s) for s in get(data.plan, "guideline", default=[]) or [] if s not in shown
            and not str(s).startswith("Confidence")]
    lead = [Para(said.pop(0))] if said and said[0].startswith("Buy") else []
    sec.add(*lead, facts(data, rec), _confidence(data, rec, plan_band(data.plan)), _status(rec), *verdicts)
    if said:
        sec.add(Bullets(said))
    return sec
