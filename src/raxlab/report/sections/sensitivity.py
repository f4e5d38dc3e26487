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
        fab = f" on {rec.get('fabric')} x{rec.get('rails')}" if rec.get("fabric") else " (one node)"
        nodes = rec.get("nodes")
        count = f"{rec['gpus']} x" if rec.get("gpus") else f"{nodes} node{'s' if nodes != 1 else ''} of"
        return f"{count} {rec.get('accelerator')}{fab}, {rec.get('precision')}"
    return fmt.text(rec) if rec is not None else ""


def _value(k: str, v) -> str:
    if k.endswith("_usd"):
        return fmt.usd(v)
    if k.endswith("_s"):
        return fmt.seconds(v)
    return fmt.text(v)


def _title(key: str) -> str:
    """'time_to_target_s' -> 'time to target' (the unit is in the formatted value)."""
    for suffix in ("_usd", "_s"):
        if key.endswith(suffix):
            key = key[: -len(suffix)]
    return {"tco": "TCO", "capex": "CAPEX"}.get(key, key.replace("_", " "))


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def table(rows: list[dict], band) -> Table:
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in _SKIP
            and not any(isinstance(r.get(k), (dict, list)) for r in rows)]
    lab = projected(band, "the plan re-chosen under the scenario")
    numeric = {k for k in keys if any(_is_num(r.get(k)) for r in rows)}
    cols = [Column("scenario"), Column("changes the purchase?"), Column("recommendation under it")]
    cols += [Column(_title(k), lab if k in numeric else None, k in numeric) for k in keys]
    body = []
    for r in rows:
        changed = first(r, "changes", "changed")
        body.append([Cell(str(first(r, "scenario", "name", "label", default="?"))),
                     Cell(fmt.text(changed) if changed is not None else "N/A"), Cell(_rec_text(r))]
                    + [cell(_value(k, r.get(k)), value=r.get(k) if _is_num(r.get(k)) else None) for k in keys])
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
