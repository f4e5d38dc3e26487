"""Stored points as flat rows: CSV, Parquet or JSON (`rax runs export`).

One row per point: run and point identity, `param.*` and `result.*` columns (nested results
flattened with dots, lists kept as JSON text in CSV), the raw samples and their count. A
pipeline run exports the points of every stage it links, with the stage named.
"""

from __future__ import annotations

import csv
import io
import json
import math

from raxlab.errors import RaxError
from raxlab.report.model import ReportData

FORMATS = ("csv", "parquet", "json")
HEAD = ("run_id", "stage", "run_kind", "workload", "machine_id", "seq", "kind", "name", "status", "error", "created_at",
        "n_samples")


def flatten(d, prefix: str) -> dict:
    """{'summary': {'median': 1}} -> {'result.summary.median': 1}; lists stay values."""
    out: dict = {}
    if not isinstance(d, dict):
        return {prefix: d} if d is not None else {}
    for k, v in d.items():
        key = f"{prefix}.{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def _machine(run: dict) -> str | None:
    fps = run.get("fingerprints") or {}
    fp = fps.get("host") or next(iter(fps.values()), None) or {}
    return fp.get("machine_id")


def rows(data: ReportData) -> list[dict]:
    """Every point of the run and of the stages it links, flattened."""
    out = []
    for run in [data.root, *data.children()]:
        for p in run["points"]:
            row = {"run_id": run["id"], "stage": data.stage_of(run["id"]), "run_kind": run["kind"],
                   "workload": run.get("workload"), "machine_id": _machine(run), "seq": p["seq"], "kind": p["kind"],
                   "name": p["name"], "status": p["status"], "error": p.get("error"), "created_at": p["created_at"],
                   "n_samples": len(p["samples"] or [])}
            row.update(flatten(p.get("params"), "param"))
            row.update(flatten(p.get("result"), "result"))
            row["samples"] = list(p["samples"] or [])
            out.append(row)
    return out


def columns(rows_: list[dict]) -> list[str]:
    rest = sorted({k for r in rows_ for k in r} - set(HEAD) - {"samples"})
    return [*HEAD, *rest, "samples"]


def _csv_value(v):
    if v is None:
        return ""
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    return v


def to_csv(rows_: list[dict]) -> str:
    buf = io.StringIO()
    cols = columns(rows_)
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows_:
        w.writerow([_csv_value(r.get(c)) for c in cols])
    return buf.getvalue()


def to_json(rows_: list[dict]) -> str:
    return json.dumps(rows_, indent=1, default=str, allow_nan=False)


def _arrow_column(values: list):
    """A pyarrow array; a column mixing kinds (numbers and text, lists) becomes JSON text."""
    import pyarrow as pa

    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int, float}:
        return pa.array([None if v is None else float(v) for v in values], pa.float64()) if float in kinds \
            else pa.array(values, pa.int64())
    if kinds <= {bool} or kinds <= {str}:
        return pa.array(values)
    return pa.array([None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values], pa.string())


def to_parquet(rows_: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = columns(rows_)
    arrays = {c: _arrow_column([r.get(c) for r in rows_]) for c in cols if c != "samples"}
    arrays["samples"] = pa.array([r.get("samples") or [] for r in rows_], pa.list_(pa.float64()))
    buf = io.BytesIO()
    pq.write_table(pa.table(arrays), buf)
    return buf.getvalue()


def export(data: ReportData, fmt: str) -> str | bytes:
    if fmt not in FORMATS:
        raise RaxError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}", field="--format")
    r = rows(data)
    return {"csv": to_csv, "json": to_json, "parquet": to_parquet}[fmt](r)
