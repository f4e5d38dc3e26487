"""How the recommendation moves when prices, the deadline or the efficiency move."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Cell, Column, Para, Section, Table, cell
from raxlab.report.model import ReportData
from raxlab.report.sections.common import first, projected
from raxlab.report.sections.fabric import plan_band

_SKIP = {"scenario", "name", "label", "sentence", "changes", "changed", "recommendation"}


def _rows(sens) -> list[dict]:
    if isinstance(sens, list):
        return [r for r in sens if isinstance(r, dict)]
    if isinstance(sens, dict):
        lst = first(sens, "scenarios", "rows")
        if isinstance(lst, list):
            return [r for r in lst if isinstance(r, dict)]
        return [{"scenario": k, **(v if isinstance(v, dict) else {"result": v})} for k, v in sens.items()
                if k not in ("sentence",)]
    return []


def _rec_text(r: dict) -> str:
    rec = r.get("recommendation")
    if isinstance(rec, dict):
        fab = f" on {rec.get('fabric')}" if rec.get("fabric") else ""
        return f"{rec.get('gpus')} x {rec.get('accelerator')}{fab}, {rec.get('precision')}"
    return fmt.text(rec) if rec is not None else ""


def _value(k: str, v) -> str:
    if k.endswith("_usd"):
        return fmt.usd(v)
    if k.endswith("_s"):
        return fmt.seconds(v)
    return fmt.text(v)


def table(rows: list[dict], band) -> Table:
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in _SKIP and not isinstance(rows[0].get(k), (dict, list))]
    lab = projected(band, "the plan re-chosen under the scenario")
    cols = [Column("scenario"), Column("recommendation under it")] + [Column(k.replace("_", " "), lab, True) for k in keys]
    cols.append(Column("changes the purchase?"))
    body = []
    for r in rows:
        changed = first(r, "changes", "changed")
        body.append([Cell(str(first(r, "scenario", "name", "label", default="?"))), Cell(_rec_text(r))]
                    + [cell(_value(k, r.get(k)), value=r.get(k) if isinstance(r.get(k), (int, float)) else None) for k in keys]
                    + [Cell(fmt.text(changed) if changed is not None else "N/A")])
    return Table(cols, body, "Each scenario re-runs the choice with one input moved.")


def build(data: ReportData) -> Section:
    sec = Section("sensitivity", "Sensitivity: what would change the answer")
    sens = (data.plan or {}).get("sensitivity")
    rows = _rows(sens)
    if not rows:
        return sec.missing("No sensitivity analysis in this run (no purchase plan, or the plan has none): N/A.")
    if isinstance(sens, dict) and sens.get("sentence"):
        sec.add(Para(f"{sens['sentence']} (projected)", "verdict"))
    sentences = [r["sentence"] for r in rows if isinstance(r.get("sentence"), str)]
    sec.add(table(rows, plan_band(data.plan)))
    for s in sentences:
        sec.add(Para(s, "note"))
    return sec
