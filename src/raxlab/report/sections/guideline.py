"""The purchase guideline on one screen: what to buy, what it costs, how long it takes, the
network and precision verdicts, and how sure the model is."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Cell, Facts, Label, Para, Section
from raxlab.report.model import ReportData
from raxlab.report.sections.common import band_text, first, get, projected, with_band
from raxlab.report.sections.fabric import plan_band


def _buy(rec: dict) -> str:
    nodes, srv, gpus, acc = rec.get("nodes"), rec.get("server"), rec.get("gpus"), rec.get("accelerator")
    head = f"{fmt.text(nodes)} x {fmt.text(srv)} ({fmt.text(gpus)} x {fmt.text(acc)})"
    return head


def _net(rec: dict) -> str:
    if not rec.get("fabric"):
        return "none: one node, no scale-out fabric"
    rails = rec.get("rails")
    return f"{rec['fabric']}, {fmt.text(rails)} NIC rail{'s' if rails != 1 else ''} per node" + (
        f" ({rec['nic']})" if rec.get("nic") else "")


def _layout(lay) -> str:
    if not isinstance(lay, dict):
        return fmt.text(lay)
    keys = ("tp", "pp", "dp", "zero", "micro_batch", "global_batch", "recompute")
    return ", ".join(f"{k}={lay[k]}" for k in keys if k in lay)


def _confidence(data: ReportData, rec: dict, band: dict | None) -> str:
    parts = [band_text(band)]
    cal = data.calibration
    mae = first(cal, "median_abs_error", "median_abs") if isinstance(cal, dict) else None
    if mae is not None:
        parts.append(f"back-test on this machine: median |error| {fmt.pct(mae)}")
    parts.append(f"compute efficiency: {rec.get('compute_basis') or 'N/A'}")
    if rec.get("fabric"):
        parts.append(f"network: {rec.get('comm_basis') or 'N/A'}")
    return "; ".join(parts)


def facts(data: ReportData, rec: dict) -> Facts:
    band = plan_band(data.plan)
    proj = projected(band, "plan recommendation")
    cost = Label("projected", "sum of catalogue prices (sources in the catalogue section); energy at the stated tariff")
    obj = get(data.plan, "objective") or {}
    label = rec.get("cost_per_unit_label") or obj.get("cost_per_unit") or "per unit of work"
    tco_years = get(obj, "tco", "years")
    items = [
        ("Buy", Cell(_buy(rec))),
        ("Interconnect", Cell(_net(rec))),
        ("Precision", Cell(fmt.text(rec.get("precision")))),
        ("Parallel layout", Cell(_layout(rec.get("layout")))),
        ("Time to target", Cell(with_band(rec.get("time_to_target_s"), band, fmt.seconds), proj, fmt.num(rec.get("time_to_target_s")))),
        ("Throughput", Cell(with_band(rec.get("rate"), band, lambda v: f"{fmt.si(v, '')} {obj.get('unit') or 'units'}/s"), proj, fmt.num(rec.get("rate")))),
        ("CAPEX", Cell(fmt.usd(rec.get("capex_usd")), cost, fmt.num(rec.get("capex_usd")))),
        (f"TCO{f' ({tco_years:g} years)' if fmt.num(tco_years) else ''}", Cell(fmt.usd(rec.get("tco_usd")), cost, fmt.num(rec.get("tco_usd")))),
        (f"Cost ({label})", Cell(fmt.g(rec.get("cost_per_unit")), cost, fmt.num(rec.get("cost_per_unit")))),
        ("Power (IT, average)", Cell(fmt.g(rec.get("it_power_kw"), 3, "kW"), proj, fmt.num(rec.get("it_power_kw")))),
        ("Confidence", Cell(_confidence(data, rec, band))),
    ]
    return Facts(items)


def _verdicts(plan: dict) -> list[Para]:
    out = []
    for key, title in (("network", "Network"), ("precision", "Precision"), ("accelerator", "Accelerator"),
                       ("scale", "Scale")):
        v = get(plan, "verdicts", key)
        sentence = v.get("sentence") if isinstance(v, dict) else v if isinstance(v, str) else None
        basis = v.get("basis", "projected") if isinstance(v, dict) else "projected"
        out.append(Para(f"{title}: {sentence} ({basis})" if sentence else f"{title}: no verdict in the plan (N/A).",
                        "verdict" if sentence else "missing"))
    return out


def _targets(rec: dict, plan: dict) -> list[Para]:
    if rec.get("meets_targets", True):
        return [Para("Meets every target and cap of the workload spec (projected).", "verdict")]
    short = rec.get("shortfall") or {}
    miss = ", ".join(f"{k} {fmt.pct(v)} short" for k, v in short.items()) or "see the plan"
    return [Para(f"No candidate meets every target: this is the nearest one ({miss}). "
                 "Relax the deadline or the caps, or widen the catalogue.", "warn")]


def build(data: ReportData) -> Section:
    sec = Section("guideline", "Purchase guideline")
    rec = get(data.plan, "recommendation")
    if not isinstance(rec, dict):
        sec.missing("No purchase plan in this run, so there is no guideline yet: this report shows what was "
                    f"measured. Make one with `rax plan {data.workload or 'WORKLOAD'} --run {data.root['id']}`, "
                    "or run the whole pipeline with `rax run`.")
        return sec
    sec.add(facts(data, rec), *_targets(rec, data.plan), *_verdicts(data.plan))
    for note in (get(data.plan, "assumptions") or [])[:3]:
        sec.add(Para(f"Assumed: {note}", "note"))
    return sec
