"""The fabric comparison: InfiniBand vs RoCE vs Ethernet. What the network here measured
(collectives, A/B), what the model projects for the cluster you would buy, and scaling
efficiency vs GPU count per fabric."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Cell, Chart, Column, Heading, Label, Para, Section, Table, cell
from raxlab.report.model import COMM_KIND, ReportData
from raxlab.report.sections import comm, distributed
from raxlab.report.sections.common import band_text, first, get, not_measured, projected
from raxlab.report.svg import Axis, Plot

def plan_band(plan: dict | None) -> dict | None:
    """The projection's relative error band as the plan stored it (None: the model has none here)."""
    return (get(plan, "recommendation", "projection", "error_band") or get(plan, "acceptance", "projected", "error_band")
            or first(plan or {}, "error_band") or get(plan, "recommendation", "error_band"))


def network_table(net: dict, band: dict | None) -> Table:
    lab = projected(band, "fabric comparison at the recommended GPUs and node count")
    moe = any(r.get("all_to_all_share") for r in net.get("rows") or [])  # MoE: the EP all-to-all part of it
    rows = []
    for r in net.get("rows") or []:
        a2a = [cell(fmt.pct(r.get("all_to_all_share")), value=r.get("all_to_all_share"))] if moe else []
        own = Label("measured", "measured fabric fit") if r.get("comm_basis") == "measured" else None
        rows.append([Cell(f"{r.get('fabric')} ({r.get('family') or '?'})"), cell(fmt.text(r.get("rails")), value=r.get("rails")),
                     cell(fmt.seconds(r.get("time_to_target_s")), value=r.get("time_to_target_s")),
                     cell(fmt.pct(r.get("scaling_efficiency")), value=r.get("scaling_efficiency")),
                     cell(fmt.pct(r.get("exposed_comm_share")), value=r.get("exposed_comm_share")), *a2a,
                     cell(fmt.usd(r.get("capex_delta_usd")), value=r.get("capex_delta_usd")),
                     cell(fmt.usd(r.get("tco_delta_usd")), value=r.get("tco_delta_usd")),
                     cell(fmt.g(r.get("cost_per_unit")), value=r.get("cost_per_unit")),
                     Cell("yes" if r.get("meets_targets") else "no"),
                     Cell(f"network: {r.get('comm_basis') or 'N/A'}", own)])
    cols = [Column("fabric"), Column("rails"), Column("time to target", lab, True), Column("scaling efficiency", lab, True),
            Column("exposed comm. share", lab, True),
            *([Column("of it EP all-to-all", lab, True)] if moe else []), Column("CAPEX vs recommended", lab, True),
            Column("TCO vs recommended", lab, True), Column("cost per unit", lab, True), Column("meets targets"),
            Column("basis")]
    return Table(cols, rows, "Every fabric on the recommended accelerator, server, precision and node count, each "
                             "with its best rail count and layout. CAPEX/TCO from catalogue prices.")


def under_load_blocks(net: dict, plan: dict | None) -> list:
    """RoCE in both load regimes vs the best InfiniBand row, the price of tuning, and the
    acceptance thresholds that hold the delivered fabric to the projection."""
    load = net.get("under_load")
    if not isinstance(load, dict):
        return []
    ib = load.get("versus") or {}
    lab = Label("projected", "fabric load regimes (predict/data/fabric_regimes.yaml) and catalogue ranges")
    est = Label("estimate", "catalogue tuning_engineer_weeks of the RoCE fabric x the planner's engineer_usd_per_week")
    rows = []
    for r in load.get("rows") or []:
        for name, d in (r.get("by_regime") or {}).items():
            ci = d.get("ci") or [None, None]
            rows.append([Cell(f"{r.get('fabric')} x {r.get('rails')}"), Cell(name),
                         cell(fmt.g(get(d, "projected", "ratio")), lab, get(d, "projected", "ratio")),
                         Cell(f"{fmt.g(ci[0])}-{fmt.g(ci[1])}" if ci[0] is not None else "N/A"),
                         cell(fmt.usd(d.get("tco_usd")), value=d.get("tco_usd")),
                         cell(fmt.usd(d.get("tuning_usd")) if d.get("tuning_usd") else "-", value=d.get("tuning_usd")),
                         Cell(str(d.get("decision"))), Cell(get(d, "next_step", "what") or "")])
    out = [Heading("Under load: RoCE tuned vs plain ECMP"), Para(load.get("summary") or "", "verdict"),
           Table([Column("RoCE fabric"), Column("regime"), Column(f"step vs {ib.get('fabric')}", lab, True),
                  Column("interval"), Column("TCO", lab, True), Column("tuning (estimate)", est, True), Column("decision"),
                  Column("next step")], rows,
                 f"Ratio = RoCE step time / {ib.get('fabric')} step time on the recommended hardware; decision: pays "
                 f"({ib.get('fabric')} surely faster beyond the tie threshold), tie (proven inside it), inconclusive.")]
    th = get(plan, "acceptance", "thresholds")
    if isinstance(th, dict) and th.get("rows"):
        trows = [[Cell(t.get("collective")), cell(fmt.text(t.get("ranks")), value=t.get("ranks")),
                  cell(fmt.g(t.get("projected_GBps")), value=t.get("projected_GBps")),
                  cell(fmt.g(t.get("min_GBps")), value=t.get("min_GBps")), Cell(t.get("basis") or "")]
                 for t in th["rows"]]
        out += [Heading("Acceptance thresholds for the delivered fabric (rax accept)"),
                Table([Column("collective"), Column("ranks"), Column("projected busbw GB/s", lab, True),
                       Column("must reach GB/s", lab, True), Column("basis")], trows)]
    return out


def measured_ab(ab: dict) -> list:
    lab = Label("measured", f"A/B run {ab.get('run') or '?'} on {ab.get('nodes', '?')} nodes")
    rows = [[Cell(str(a.get("fabric"))), cell(fmt.seconds(a.get("median_step_s")), lab, a.get("median_step_s")),
             cell(fmt.text(a.get("n")), value=a.get("n")), cell(fmt.seconds(a.get("time_to_target_s")), lab, a.get("time_to_target_s")),
             Cell("yes" if a.get("meets_targets") else "no")] for a in ab.get("arms") or []]
    out = [Heading("Measured A/B of fabrics"),
           Table([Column("arm"), Column("median step"), Column("repeats"), Column("time to target"), Column("meets")], rows)]
    if ab.get("note"):
        out.append(Para(ab["note"], "note"))
    if ab.get("sentence"):
        out.append(Para(ab["sentence"] + " (measured)", "verdict"))
    return out


def scaling_rows(plan: dict | None) -> list[dict]:
    """Projected (fabric, gpus, efficiency) rows from wherever the plan holds them, de-duplicated."""
    net = get(plan, "verdicts", "network") or {}
    gpus = get(net, "hardware", "gpus")
    rows = [{**r, "gpus": r.get("gpus") or gpus} for r in net.get("rows") or []]
    scale = get(plan, "verdicts", "scale") or {}
    for key in ("rows", "curve", "points", "by_fabric"):
        val = scale.get(key) if isinstance(scale, dict) else None
        if isinstance(val, list):
            rows += [r for r in val if isinstance(r, dict)]
        elif isinstance(val, dict):
            rows += [{**r, "fabric": r.get("fabric", f)} for f, lst in val.items() if isinstance(lst, list) for r in lst]
    keep = _shown_fabrics(net, scale)
    seen, out = set(), []
    for r in rows:
        key = (r.get("fabric"), r.get("gpus"))
        shown = keep is None or r.get("fabric") in keep or not r.get("fabric")
        if shown and r.get("gpus") and fmt.num(r.get("scaling_efficiency")) is not None and key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _shown_fabrics(net: dict, scale) -> set | None:
    """The recommended fabric and each family's best (a dozen lines would hide the answer);
    None keeps all when the plan names no families."""
    fams = net.get("by_family") or {}
    if not fams:
        return None
    keep = {v.get("fabric") for v in fams.values() if isinstance(v, dict)} | {net.get("recommended_fabric")}
    if isinstance(scale, dict):
        keep |= {get(scale, "design", "fabric")}
    return keep - {None}


def scaling_chart(plan: dict | None, band: dict | None) -> Chart | None:
    rows = scaling_rows(plan)
    if not rows:
        return None
    plot = Plot(Axis("GPUs", log=True, base=2, fmt=lambda v: f"{v:g}"),
                Axis("scaling efficiency", lo=0, fmt=lambda v: f"{v * 100:.0f} %"),
                desc="Projected scaling efficiency against GPU count, one line per fabric")
    by: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("fabric"):
            by.setdefault(str(r["fabric"]), []).append(r)
    # one node needs no fabric: it anchors every fabric's line (or stands alone)
    single = [r for r in rows if not r.get("fabric")]
    for lst in by.values():
        lst += [r for r in single if r["gpus"] not in {x["gpus"] for x in lst}]
    if not by and single:
        by["one node"] = single
    lab = projected(band)
    data = []
    for i, (fab, lst) in enumerate(sorted(by.items())):
        lst.sort(key=lambda r: r["gpus"])
        xs, ys = [r["gpus"] for r in lst], [r["scaling_efficiency"] for r in lst]
        plot.line(xs, ys, fab, index=i, tips=[f"{fab}: {x} GPUs, {y * 100:.3g} %" for x, y in zip(xs, ys)])
        data += [[Cell(fab), cell(str(x), value=x), cell(fmt.pct(y), lab, y)] for x, y in zip(xs, ys)]
    plot.hline(1.0, "ideal (linear scaling)")
    return Chart("scaling", "Scaling efficiency vs GPU count, per fabric (projected)", plot.render(),
                 "Throughput per GPU relative to one node of the same GPUs: the recommended fabric and the best of "
                 f"each family (InfiniBand, RoCE, Ethernet); every fabric is in the table above. {band_text(band)}.",
                 Table([Column("fabric"), Column("GPUs"), Column("efficiency", numeric=True)], data))


def build(data: ReportData) -> Section:
    sec = Section("fabric", "Fabric comparison: InfiniBand, RoCE or Ethernet?")
    for run in [r for k in distributed.AB_KINDS for r in data.of_kind(k)]:  # a measured fabric verdict comes first
        sec.add(*distributed.abtest_blocks(run))
    comm_runs = data.of_kind(COMM_KIND)
    if comm_runs:
        sec.add(*comm.blocks(comm_runs))
    else:
        sec.add(Heading("Collectives measured here"), Para(not_measured("no `rax bench comm` run"), "missing"))
    net = get(data.plan, "verdicts", "network")
    if isinstance(net, dict) and isinstance(net.get("measured"), dict):
        sec.add(*measured_ab(net["measured"]))
    sec.add(Heading("Projected for the cluster you would buy"))
    if not isinstance(net, dict):
        return sec.add(Para("No projected fabric comparison: this run has no purchase plan (N/A).", "missing"))
    band = plan_band(data.plan)
    sec.add(Para(f"Verdict ({net.get('basis', 'projected')}): {net.get('sentence') or 'N/A'}", "verdict"))
    if net.get("tie_threshold") is not None:
        sec.add(Para(f"Tie threshold ±{fmt.pct(net['tie_threshold'])}: {net.get('tie_basis') or ''}", "note"))
    if net.get("rows"):
        sec.add(network_table(net, band))
    sec.add(*under_load_blocks(net, data.plan))
    sec.add(scaling_chart(data.plan, band) or Para("No scaling curve in the plan (N/A).", "missing"))
    return sec
