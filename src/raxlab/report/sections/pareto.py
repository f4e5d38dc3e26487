"""Cost vs time-to-target: the Pareto front the planner found, the recommendation marked."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Cell, Chart, Column, Para, Section, Table, cell
from raxlab.report.model import ReportData
from raxlab.report.sections.common import band_text, get, projected
from raxlab.report.sections.fabric import plan_band
from raxlab.report.svg import Axis, Plot


def _name(r: dict) -> str:
    fab = f" {r['fabric']} x{r.get('rails')}" if r.get("fabric") else ""
    return f"{r.get('gpus')}x {r.get('accelerator')}{fab} {r.get('precision') or ''}".strip()


def _time_axis(values: list[float]) -> tuple[float, str]:
    top = max(values, default=1.0)
    if top >= 2 * 86400:
        return 86400.0, "days"
    if top >= 2 * 3600:
        return 3600.0, "hours"
    return 1.0, "s"


def _x(rows: list[dict]) -> tuple[str, str]:
    """Time-to-target when the plan has an amount of work, else throughput."""
    if any(fmt.num(r.get("time_to_target_s")) for r in rows):
        return "time_to_target_s", "time to target"
    return "rate", "throughput (units/s)"


def _cost_key(rows: list[dict]) -> str:
    return "tco_usd" if any(fmt.num(r.get("tco_usd")) for r in rows) else "capex_usd"


def front_points(plan: dict) -> list[dict]:
    """The plan's Pareto points: `pareto.points` (current planner) or a plain list."""
    par = plan.get("pareto")
    pts = par.get("points") if isinstance(par, dict) else par
    return [r for r in pts or [] if isinstance(r, dict)]


def chart(plan: dict) -> Chart | None:
    front = front_points(plan)
    rec = plan.get("recommendation") if isinstance(plan.get("recommendation"), dict) else None
    rows = front + ([rec] if rec else [])
    xkey, xname = _x(rows)
    ckey = _cost_key(rows)
    pts = [r for r in front if fmt.num(r.get(xkey)) and fmt.num(r.get(ckey))]
    if not pts:
        return None
    scale, unit = _time_axis([r[xkey] for r in rows if fmt.num(r.get(xkey))]) if xkey == "time_to_target_s" else (1.0, "")
    cost_name = "TCO" if ckey == "tco_usd" else "CAPEX"
    plot = Plot(Axis(f"{xname}{f' ({unit})' if unit else ''}", log=True, fmt=lambda v: f"{v:g}"),
                Axis(f"{cost_name} (USD)", log=True, fmt=fmt.usd),
                desc=f"Projected {cost_name} against {xname} of the Pareto-optimal candidates; star: the recommendation")
    pts.sort(key=lambda r: r[xkey])
    plot.line([r[xkey] / scale for r in pts], [r[ckey] for r in pts], "Pareto front", index=0, markers=False)
    for meets, name, shape in ((True, "meets every target", "circle"), (False, "misses a target or cap", "triangle")):
        sel = [r for r in pts if bool(r.get("meets_targets")) == meets]
        if sel:
            plot.points([r[xkey] / scale for r in sel], [r[ckey] for r in sel], name, index=0 if meets else 1,
                        shape=shape, tips=[f"{_name(r)}: {fmt.seconds(r.get('time_to_target_s'))}, {fmt.usd(r[ckey])}"
                                           for r in sel])
    if rec and fmt.num(rec.get(xkey)) and fmt.num(rec.get(ckey)):
        plot.star(rec[xkey] / scale, rec[ckey], "recommended")
    deadline = fmt.num(get(plan, "objective", "deadline_s"))
    if deadline and xkey == "time_to_target_s":
        plot.vline(deadline / scale, "deadline")
    lab = projected(plan_band(plan))
    data = [[Cell(_name(r)), cell(fmt.seconds(r.get("time_to_target_s")), lab, r.get("time_to_target_s")),
             cell(fmt.g(r.get("rate")), lab, r.get("rate")), cell(fmt.usd(r.get(ckey)), lab, r.get(ckey)),
             Cell("yes" if r.get("meets_targets") else "no")] for r in pts]
    return Chart("pareto", f"{cost_name} vs {xname}: the Pareto front (projected)", plot.render(),
                 f"Each point is the cheapest candidate for its speed; no other candidate is both cheaper and faster. "
                 f"The star is the recommendation. {band_text(plan_band(plan))}; costs from catalogue prices.",
                 Table([Column("candidate"), Column("time to target"), Column("units/s"), Column(cost_name),
                        Column("meets targets")], data))


def serving_chart(plan: dict) -> Chart | None:
    """A serving plan's front: output tokens/s per GPU against tokens/s per user, under its SLA."""
    sv = plan.get("serving") if isinstance(plan.get("serving"), dict) else {}
    par = sv.get("pareto") if isinstance(sv.get("pareto"), dict) else {}
    pts = [r for r in par.get("points") or [] if isinstance(r, dict) and fmt.num(r.get("tokens_per_s_per_gpu"))
           and fmt.num(r.get("tokens_per_s_per_user"))]
    if not pts:
        return None
    pts.sort(key=lambda r: r["tokens_per_s_per_user"])
    plot = Plot(Axis("tokens/s per user (1 / TPOT)", log=True, fmt=lambda v: f"{v:g}"),
                Axis("output tokens/s per GPU", log=True, fmt=lambda v: f"{v:g}"),
                desc="Projected serving front under the SLA: no candidate is better on both axes; star: the recommendation")
    xs, ys = [r["tokens_per_s_per_user"] for r in pts], [r["tokens_per_s_per_gpu"] for r in pts]
    plot.line(xs, ys, "front (meets the SLA)", index=0, tips=[_serving_name(r) for r in pts])
    rec = plan.get("recommendation") if isinstance(plan.get("recommendation"), dict) else {}
    if fmt.num(rec.get("tokens_per_s_per_user")) and fmt.num(rec.get("tokens_per_s_per_gpu")):
        plot.star(rec["tokens_per_s_per_user"], rec["tokens_per_s_per_gpu"], "recommended")
    lab = projected(None, "serving projection")
    data = [[Cell(_serving_name(r)), cell(fmt.g(r["tokens_per_s_per_gpu"]), lab, r["tokens_per_s_per_gpu"]),
             cell(fmt.g(r["tokens_per_s_per_user"]), lab, r["tokens_per_s_per_user"]),
             cell(fmt.seconds(r.get("ttft_p99_s")), lab, r.get("ttft_p99_s")),
             cell(fmt.seconds(r.get("tpot_s")), lab, r.get("tpot_s"))] for r in pts]
    sla = sv.get("sla") or {}
    bounds = ", ".join(f"{name} <= {fmt.seconds(sla[k])}" for k, name in (("ttft_p99_s", "TTFT p99"),
                       ("tpot_s", "TPOT"), ("latency_p99_s", "p99 latency")) if fmt.num(sla.get(k))) or "no latency bound"
    return Chart("serving-front", "Serving: tokens/s per GPU vs tokens/s per user (projected)", plot.render(),
                 f"Each point is a replica design (accelerator, precision, tensor parallel, batch) meeting the SLA "
                 f"({bounds}) that no other beats on both throughputs; bigger batches buy tokens/s per GPU with speed "
                 f"per user. {fmt.text(sv.get('band'))}.",
                 Table([Column("replica"), Column("tok/s/GPU"), Column("tok/s/user"), Column("TTFT p99"),
                        Column("TPOT")], data))


def _serving_name(r: dict) -> str:
    return f"{r.get('accelerator')} {r.get('precision')} tp {r.get('tp')} batch {r.get('batch')}"


def build(data: ReportData) -> Section:
    sec = Section("pareto", "Cost vs time to target")
    plan = data.plan or {}
    charts = [c for c in ((chart(plan), serving_chart(plan)) if plan else ()) if c is not None]
    if not charts:
        return sec.missing("No Pareto front in this run (no purchase plan): N/A.")
    sec.add(*charts, *_search_notes(plan))
    return sec


def _search_notes(plan: dict) -> list[Para]:
    """How big the search was and what it left out, by reason (the planner's counts)."""
    out = []
    s = plan.get("search") or {}
    if s.get("candidates_covered"):
        out.append(Para(f"Searched {fmt.count(s.get('hardware_options'))} hardware options covering "
                        f"{fmt.count(s['candidates_covered'])} candidate layouts ({fmt.text(s.get('method'))}).", "note"))
    pruned = plan.get("pruned") or {}
    for group in ("hardware", "layouts"):
        items = [(k, v) for k, v in (pruned.get(group) or {}).items() if fmt.num(v)]
        if items:
            items.sort(key=lambda kv: -kv[1])
            out.append(Para(f"Left out ({group}): " + "; ".join(f"{k}: {fmt.count(v)}" for k, v in items) + ".", "note"))
    return out
