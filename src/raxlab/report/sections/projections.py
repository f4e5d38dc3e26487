"""Projections with their error bands: the recommended cluster's step in detail, the
alternatives, memory per GPU, and the model's own back-test on this machine."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Bullets, Cell, Column, Heading, Label, Para, Section, Table, cell, kv_table
from raxlab.report.model import ReportData
from raxlab.report.sections import compute
from raxlab.report.sections.common import band_text, first, get, projected, with_band
from raxlab.report.sections.fabric import plan_band

GIB = 2.0**30


def _name(r: dict) -> str:
    fab = f" on {r['fabric']} x{r.get('rails')}" if r.get("fabric") else " (one node)"
    return f"{r.get('gpus')} x {r.get('accelerator')}{fab}, {r.get('precision')}"


def headline(rec: dict, band: dict | None) -> list:
    lab = projected(band, "recommended candidate")
    rows = [("step time", with_band(rec.get("step_time_s"), band, fmt.seconds)),
            ("samples/s (whole cluster)", with_band(rec.get("samples_per_s"), band, lambda v: fmt.si(v, ""))),
            ("tokens/s (whole cluster)", with_band(rec.get("tokens_per_s"), band, lambda v: fmt.si(v, ""))),
            ("MFU (model FLOPs vs dense peak)", fmt.pct(rec.get("mfu"))),
            ("memory per GPU", fmt.g(rec.get("memory_per_gpu_gib"), 4, "GiB")),
            ("exposed communication share of the step", fmt.pct(rec.get("exposed_comm_share"))),
            ("compute efficiency basis", fmt.text(rec.get("compute_basis"))),
            ("network basis", fmt.text(rec.get("comm_basis")))]
    terms = first(rec, "terms_s") or get(rec, "projection", "terms_s") or {}
    rows += [(f"step term: {k}", fmt.seconds(v)) for k, v in terms.items()]
    return [Heading(f"Recommended: {_name(rec)}"), kv_table(rows, lab, f"Range in brackets: {band_text(band)}.")]


def alternatives_table(plan: dict, band: dict | None) -> Table | None:
    alts = [r for r in (plan.get("alternatives") or []) if isinstance(r, dict)]
    if not alts:
        return None
    lab = projected(band)
    cost = Label("projected", "from catalogue prices")
    rows = [[Cell(_name(r)), cell(fmt.seconds(r.get("time_to_target_s")), value=r.get("time_to_target_s")),
             cell(fmt.g(r.get("rate")), value=r.get("rate")), cell(fmt.pct(r.get("mfu")), value=r.get("mfu")),
             cell(fmt.g(r.get("memory_per_gpu_gib")), value=r.get("memory_per_gpu_gib")),
             cell(fmt.usd(r.get("capex_usd")), value=r.get("capex_usd")), cell(fmt.usd(r.get("tco_usd")), value=r.get("tco_usd")),
             cell(fmt.g(r.get("cost_per_unit")), value=r.get("cost_per_unit")),
             Cell("yes" if r.get("meets_targets") else "no"), Cell(str(r.get("why") or r.get("note") or ""))] for r in alts]
    cols = [Column("candidate"), Column("time to target", lab, True), Column("units/s", lab, True), Column("MFU", lab, True),
            Column("GiB per GPU", lab, True), Column("CAPEX", cost, True), Column("TCO", cost, True),
            Column("cost per unit", cost, True), Column("meets"), Column("note")]
    return Table(cols, rows, "The alternatives the planner kept (next best by cost, other accelerators).")


def memory_rows(plan: dict) -> list[tuple[str, dict]]:
    out = []
    for r in [plan.get("recommendation")] + list(plan.get("alternatives") or [])[:4]:
        if not isinstance(r, dict):
            continue
        mem = first(r, "memory_gib") or get(r, "projection", "memory_gib")
        if not isinstance(mem, dict) and fmt.num(r.get("memory_per_gpu_gib")) is not None:
            mem = {"total_only": r["memory_per_gpu_gib"]}
        if isinstance(mem, dict):
            out.append((_name(r), mem))
    return out


def _capacity_gib(rec: dict) -> float | None:
    """The recommended GPU's memory from the catalogue (None when it is not there)."""
    try:
        from raxlab.catalog import load_catalog

        return load_catalog().accelerator(str(rec.get("accelerator"))).mem_bytes / GIB
    except Exception:  # a renamed part must not break the report; the line is just left out
        return None


def calibration_blocks(cal) -> list:
    out = [Heading("Back-test of the model on this machine")]
    if not cal:
        return out + [Para("No calibration in this run: the projections use priors (N/A back-test).", "missing")]
    pts = cal.get("points") if isinstance(cal, dict) else cal
    if isinstance(pts, list) and pts:
        lab = Label("measured", "measured step here")
        prj = Label("projected", "the calibrated model, on points it was not fitted on")
        rows = [[Cell(str(first(p, "label", "name", default="?"))), cell(fmt.seconds(first(p, "measured_s", "measured")), lab,
                 first(p, "measured_s", "measured")), cell(fmt.seconds(first(p, "predicted_s", "predicted")), prj,
                 first(p, "predicted_s", "predicted")), cell(fmt.signed_pct(first(p, "rel_error", "error")), prj,
                 first(p, "rel_error", "error")), Cell("fit" if p.get("fitted") else "held out")] for p in pts if isinstance(p, dict)]
        out.append(Table([Column("point"), Column("measured"), Column("model"), Column("error"), Column("role")], rows))
    if isinstance(cal, dict):
        extra = [(k, fmt.text(v)) for k, v in cal.items() if k != "points" and not isinstance(v, (list, dict))]
        if extra:
            out.append(kv_table(extra, caption="Calibration summary as stored."))
    return out


def build(data: ReportData) -> Section:
    sec = Section("projections", "Projections and their error bands")
    plan = data.plan or {}
    rec = plan.get("recommendation")
    if not isinstance(rec, dict):
        sec.missing("No projection in this run (no purchase plan).")
        return sec.add(*calibration_blocks(data.calibration))
    band = plan_band(plan)
    sec.add(Para("Projected numbers come from the model: the workload card, the measured efficiencies where this "
                 f"run calibrated them, and catalogue hardware. {band_text(band).capitalize()}"
                 + (f" ({band['basis']})." if band and band.get("basis") else ".")))
    sec.add(*headline(rec, band), alternatives_table(plan, band))
    chart = compute.projected_memory_chart(memory_rows(plan), _capacity_gib(rec), projected(band).basis)
    sec.add(chart or Para("No per-GPU memory in the plan (N/A).", "missing"))
    sec.add(*calibration_blocks(data.calibration))
    notes = [str(a) for a in plan.get("assumptions") or []]
    if notes:
        sec.add(Heading("Assumptions"), Bullets(notes))
    return sec
