"""Measured distributed training: the DDP step over local ranks (`rax bench ddp`) and the
fabric A/B experiment (`rax abtest`). Both are measured here; an A/B arm's cost per unit of
work is a projection (its price over the horizon at the measured rate) and says so."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Cell, Column, Heading, Label, Para, Table, cell, kv_table
from raxlab.report.sections.common import get, measured

DDP_KINDS = ("bench.ddp", "ddp")
AB_KINDS = ("abtest", "bench.abtest")


def _transport(run: dict, name: str) -> str:
    seen = run["artifacts"].get(name) or {}
    kinds = sorted({str(v.get("kind") or v.get("verified") or "?") for v in seen.values() if isinstance(v, dict)})
    return ", ".join(kinds) or "not recorded"


def ddp_blocks(run: dict) -> list:
    d, setup = run["artifacts"].get("ddp") or {}, run["artifacts"].get("ddp_setup") or {}
    step = d.get("step") or {}
    out = [Heading(f"Distributed data-parallel step ({fmt.text(d.get('ranks'))} ranks, run {run['id']})")]
    if not step:
        return out + [Para("No synced step was recorded in this DDP run (N/A).", "missing")]
    ci = d.get("exposed_comm_share_ci")
    ci_text = f" (95 % CI {fmt.pct(ci[0])} … {fmt.pct(ci[1])})" if isinstance(ci, list) and len(ci) == 2 else ""
    rows = [("wrapper / transport seen", f"{setup.get('wrapper', 'ddp')} / {_transport(run, 'ddp_transport')}"),
            ("batch per rank", fmt.text(d.get("batch_per_rank"))),
            ("step time, median (IQR/median)", f"{fmt.seconds(step.get('median'))} ({fmt.pct(step.get('rel_iqr'))})"),
            ("samples/s, all ranks", fmt.g(d.get("samples_per_s"))), ("tokens/s, all ranks", fmt.g(d.get("tokens_per_s"))),
            ("scaling efficiency", fmt.pct(d.get("scaling_efficiency"))),
            ("compute part of the step (no_sync)", fmt.seconds(d.get("compute_s"))),
            ("exposed communication", f"{fmt.seconds(d.get('exposed_comm_s'))} = "
                                      f"{fmt.pct(d.get('exposed_comm_share'))} of the step{ci_text}"),
            ("gradient bytes per step / bucket", f"{fmt.nbytes(d.get('grad_bytes_per_step'))} / "
                                                 f"{fmt.text(d.get('bucket_cap_mb'))} MB")]
    out.append(kv_table(rows, measured(run)))
    for key in ("scaling_basis", "split_method"):
        if d.get(key):
            out.append(Para(f"{key.replace('_', ' ')}: {d[key]}", "note"))
    return out


def _arm_row(a: dict) -> list[Cell]:
    cost = Label("projected", str(a.get("cost_label") or "price over the horizon at the measured rate"))
    price = Label("catalogue" if "catalogue" in str(a.get("price_basis") or "") else "input", str(a.get("price_basis") or ""))
    return [Cell(str(a.get("name"))), Cell(str(a.get("spec") or a.get("transport") or "")),
            cell(fmt.text(a.get("reps")), value=a.get("reps")),
            cell(fmt.seconds(a.get("median_s")), value=a.get("median_s")),
            cell(fmt.pct(a.get("rel_iqr")), value=a.get("rel_iqr")),
            cell(fmt.pct(a.get("exposed_comm_share")), value=a.get("exposed_comm_share")),
            cell(fmt.g(a.get("work_per_s")), value=a.get("work_per_s")),
            cell(fmt.usd(a.get("price_usd")), price if a.get("price_usd") is not None else None, a.get("price_usd")),
            cell(fmt.g(a.get("usd_per_million")), cost if a.get("usd_per_million") is not None else None,
                 a.get("usd_per_million"))]


def abtest_blocks(run: dict) -> list:
    """The A/B experiment: its verdict first, then the arms, the comparisons and what qualifies them."""
    an = run["artifacts"].get("abtest_analysis") or {}
    out = [Heading(f"Fabric A/B experiment, measured here (run {run['id']})")]
    arms = [a for a in (an.get("arms") or {}).values() if isinstance(a, dict)]
    if not arms:
        return out + [Para("The A/B run stored no arm results (N/A).", "missing")]
    out += _ab_verdict(an)
    lab = measured(run, "interleaved repetitions")
    cols = [Column("arm"), Column("set-up"), Column("repetitions"), Column("median step", lab, True),
            Column("IQR/median", lab, True), Column("exposed comm. share", lab, True), Column("work/s", lab, True),
            Column("price", numeric=True), Column("USD per million units", numeric=True)]
    out.append(Table(cols, [_arm_row(a) for a in arms], str(an.get("method") or "")))
    out += _ab_comparisons(an)
    v = an.get("verdict") or {}
    out += [Para(n, "note") for n in [an.get("cost_note"), *(v.get("warnings") or []), *(an.get("notes") or [])] if n]
    return out


def ab_headline(run: dict) -> list:
    """The A/B verdict alone, for the top of a report without a purchase plan."""
    an = run["artifacts"].get("abtest_analysis") or {}
    return [Para(f"Fabric A/B (run {run['id']}): " + p.text, p.style) for p in _ab_verdict(an)]


def _ab_verdict(an: dict) -> list:
    v = an.get("verdict") or {}
    if not v:
        return [Para("No verdict: the experiment did not run to the end (" + "; ".join(an.get("notes") or []) + ").",
                     "missing")]
    rec = v.get("recommended")
    rounds = (v.get("looks") or [None])[-1]
    load = v.get("load") or {}
    busy = f"; other work used {fmt.g(load.get('others_cores'))} cores, the interval is widened x" \
           f"{fmt.g(load.get('stretch'))} for it" if (load.get("stretch") or 1) > 1.0001 else ""
    return [Para(f"Verdict (measured): {v.get('verdict')}; "
                 + (f"recommended arm: {rec}" if rec else f"leaning to {v.get('leaning')}, not yet shown")
                 + f" (cheapest {v.get('cheapest')}, fastest {v.get('fastest')}; equivalence band "
                 f"±{fmt.pct(v.get('threshold'))}, alpha {fmt.g(v.get('alpha'))} per one-sided test over "
                 f"{fmt.text(len(v.get('looks') or []))} sequential looks, {fmt.text(rounds)} rounds{busy}).",
                 "verdict")]


def _ab_comparisons(an: dict) -> list:
    v = an.get("verdict") or {}
    rows = [[Cell(f"{c.get('arm')} vs {c.get('versus')}"), cell(fmt.g(c.get("ratio")), value=c.get("ratio")),
             Cell(f"{fmt.g(get(c, 'ci', 0))} … {fmt.g(get(c, 'ci', 1))} ({fmt.pct(c.get('ci_level'))})"),
             cell(fmt.text(c.get("n_pairs")), value=c.get("n_pairs")),
             cell(fmt.pct(c.get("noise_cv")), value=c.get("noise_cv")),
             Cell(str(c.get("decision") or "")), Cell("; ".join(c.get("reasons") or []))]
            for c in v.get("comparisons") or []]
    if not rows:
        return []
    lab = Label("measured", "geometric mean of paired round ratios; paired log-ratio t interval (TOST)")
    return [Table([Column("comparison"), Column("ratio", lab, True), Column("interval"), Column("pairs", numeric=True),
                   Column("pair noise (CV)", lab, True), Column("decision"), Column("why")], rows)]
