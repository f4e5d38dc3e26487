"""Projections with their error bands: the recommended cluster's step in detail, the
alternatives, memory per GPU, and the model's own back-test on this machine."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Bullets, Cell, Column, Heading, Label, Para, Section, Table, cell, kv_table
from raxlab.report.model import ReportData
from raxlab.report.sections import backtest, compute
from raxlab.report.sections.common import band_text, first, get, projected, with_band
from raxlab.report.sections.fabric import plan_band

GIB = 2.0**30


def _name(r: dict) -> str:
    fab = f" on {r['fabric']} x{r.get('rails')}" if r.get("fabric") else " (one node)"
    return f"{r.get('gpus')} x {r.get('accelerator')}{fab}, {r.get('precision')}"


def headline(rec: dict, band: dict | None, plan: dict) -> list:
    lab = projected(band, "recommended candidate")
    step_band = get(plan, "acceptance", "projected", "step_time_band_s")
    rows = [("step time", with_band(rec.get("step_time_s"), band, fmt.seconds, step_band, time=True)),
            ("samples/s (whole cluster)", with_band(rec.get("samples_per_s"), band, lambda v: fmt.si(v, ""))),
            ("tokens/s (whole cluster)", with_band(rec.get("tokens_per_s"), band, lambda v: fmt.si(v, ""))),
            ("MFU (model FLOPs vs dense peak)", fmt.pct(rec.get("mfu"))),
            ("memory per GPU", fmt.g(rec.get("memory_per_gpu_gib"), 4, "GiB")),
            ("exposed communication share of the step", fmt.pct(rec.get("exposed_comm_share"))),
            ("compute efficiency basis", fmt.text(rec.get("compute_basis"))),
            ("network basis", fmt.text(rec.get("comm_basis")))]
    terms = first(rec, "terms_s") or get(rec, "projection", "terms_s") or {}
    shown = sorted(((k, v) for k, v in terms.items() if v != 0), key=lambda kv: -(fmt.num(kv[1]) or -1))
    rows += [(f"step term: {k}", fmt.seconds(v)) for k, v in shown]
    zero = [k for k, v in terms.items() if v == 0]
    out = [Heading(f"Recommended: {_name(rec)}"), kv_table(rows, lab, f"Range in brackets: {band_text(band)}.")]
    if zero:
        out.append(Para(f"Step terms that are zero for this layout: {', '.join(zero)}.", "note"))
    return out


# (key, title, formatter, label kind: "p" projected speed, "c" cost from catalogue prices, None text)
ALT_COLS = (("time_to_target_s", "time to target", fmt.seconds, "p"), ("rate", "units/s", lambda v: fmt.si(v, ""), "p"),
            ("mfu", "MFU", fmt.pct, "p"), ("memory_per_gpu_gib", "GiB per GPU", fmt.g, "p"),
            ("speedup_vs_bf16", "vs bf16", fmt.signed_pct, "p"), ("capex_usd", "CAPEX", fmt.usd, "c"),
            ("tco_usd", "TCO", fmt.usd, "c"), ("tco_delta_usd", "TCO vs recommended", fmt.usd, "c"),
            ("cost_per_unit", "cost per unit", lambda v: fmt.g(v, 3), "c"),
            ("cost_per_unit_delta", "cost per unit vs recommended", fmt.signed_pct, "c"),
            ("vs_best", "cost per unit vs best", fmt.signed_pct, "c"),
            ("cost_per_unit_interval", "cost per unit, error band", lambda v: _interval(v), "c"),
            ("band_rows", "validated runs behind the band", lambda v: fmt.text(v) if v else "0 (not validated)", None),
            ("meets_targets", "meets targets", fmt.text, None),
            ("caveat", "caveat", fmt.text, None))


def _interval(v) -> str:
    if not v:
        return "N/A"
    return f"{fmt.g(v[0], 3)} to {fmt.g(v[1], 3)}"


def _sortable(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def option_table(rows: list[dict], band: dict | None, caption: str, name=None) -> Table | None:
    """A table of plan options with the columns the rows have (planner rows differ by verdict)."""
    rows = [r for r in rows or [] if isinstance(r, dict)]
    if not rows:
        return None
    labs = {"p": projected(band), "c": Label("projected", "from catalogue prices (sources in the catalogue section)")}
    cols = [c for c in ALT_COLS if any(r.get(c[0]) is not None for r in rows)]
    body = [[Cell((name or _name)(r))] + [cell(f(r.get(k)), value=_sortable(r.get(k)) if kind else None)
                                          for k, _, f, kind in cols] for r in rows]
    return Table([Column("option")] + [Column(t, labs.get(kind), kind is not None) for _, t, _, kind in cols], body, caption)


def memory_rows(plan: dict) -> list[tuple[str, dict]]:
    """The recommendation's memory by part, then the other precisions' totals on the same cluster."""
    rec = plan.get("recommendation") or {}
    mem = first(rec, "memory_gib") or get(rec, "projection", "memory_gib")
    if not isinstance(mem, dict) and fmt.num(rec.get("memory_per_gpu_gib")) is not None:
        mem = {"total_only": rec["memory_per_gpu_gib"]}
    out = [(f"recommended ({rec.get('precision')})", mem)] if isinstance(mem, dict) else []
    for r in get(plan, "verdicts", "precision", "rows", default=[]) or []:
        if isinstance(r, dict) and r.get("precision") != rec.get("precision") and fmt.num(r.get("memory_per_gpu_gib")):
            out.append((f"{r['precision']} on the same cluster", {"total_only": r["memory_per_gpu_gib"]}))
    return out


def _capacity_gib(rec: dict) -> float | None:
    """The recommended GPU's memory from the catalogue (None when it is not there)."""
    try:
        from raxlab.catalog import load_catalog

        return load_catalog().accelerator(str(rec.get("accelerator"))).mem_bytes / GIB
    except Exception:  # a renamed part must not break the report; the line is just left out
        return None


def build(data: ReportData) -> Section:
    sec = Section("projections", "Projections and their error bands")
    plan = data.plan or {}
    rec = plan.get("recommendation")
    if not isinstance(rec, dict):
        sec.missing("No projection in this run (no purchase plan).")
        return sec.add(*backtest.blocks(data.calibrations))
    band = plan_band(plan)
    sec.add(Para("Projected numbers come from the model: the workload card, the measured efficiencies where this "
                 f"run calibrated them, and catalogue hardware. {band_text(band).capitalize()}"
                 + (f" ({band['basis']})." if band and band.get("basis") else ".")))
    sec.add(*headline(rec, band, plan))
    for note in get(plan, "measured", "notes", default=[]) or []:
        sec.add(Para(f"Measurements used: {note}", "note"))
    sec.add(option_table(get(plan, "verdicts", "precision", "rows"), band,
                         "Precisions on the recommended cluster.", lambda r: str(r.get("precision"))),
            option_table(get(plan, "verdicts", "accelerator", "rows"), band, "Best option per accelerator type."),
            option_table(plan.get("alternatives"), band, "Next-best alternatives the planner kept."))
    chart = compute.projected_memory_chart(memory_rows(plan), _capacity_gib(rec), projected(band).basis)
    sec.add(chart or Para("No per-GPU memory in the plan (N/A).", "missing"))
    sec.add(*backtest.blocks(data.calibrations))
    notes = [str(a) for a in plan.get("assumptions") or []]
    if notes:
        sec.add(Heading("Assumptions"), Bullets(notes))
    return sec
