"""Reports: HTML (self-contained, offline, printable), Markdown, JSON, PDF; run exports.

The layer renders stored data and computes nothing new (display-only ratios aside)::

    from raxlab.report import collect, document, write_report
    data = collect(store, "latest")          # ReportData: the run, its stages, card, plan, calibration
    doc = document(data)                     # doc.Document: sections of labelled tables and SVG charts
    path = write_report(store, "latest", "html")   # atomic write; default <store dir>/reports/<run>/report.html

Layout: `model.py` (collect), `sections/` (one builder per section), `svg.py` (charts),
`doc.py` (the neutral document), `html.py` / `markdown.py` (renderers), `pdf.py`
(headless Chromium), `output.py` (paths, atomic writes), `export.py` (points as rows),
`compare.py` (two runs, with significance).
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from raxlab import __version__
from raxlab.errors import RaxError
from raxlab.report.doc import Document
from raxlab.report.model import ReportData, collect

FORMATS = ("html", "md", "json", "pdf")
EXT = {"html": "html", "md": "md", "json": "json", "pdf": "pdf"}

__all__ = ["FORMATS", "ReportData", "collect", "document", "render", "write_report"]


def _when(stamp: str | None) -> str:
    """'2026-11-28T21:17:54.315+00:00' -> '2026-11-28 21:17 UTC' (stored stamps are UTC)."""
    return f"{stamp[:10]} {stamp[11:16]} UTC" if stamp and len(stamp) >= 16 else "N/A"


def _subtitle(data: ReportData) -> str:
    r = data.root
    kind = "pipeline (rax run)" if r["kind"] == "run" else r["kind"]
    note = f"; note: {r['note']}" if r.get("note") else ""
    return f"{kind} run {r['id']} ({r['status']}), {_when(r['created_at'])}{note}"


def document(data: ReportData) -> Document:
    from raxlab.report.sections import build_all

    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    title = f"RA:X report: {data.workload or data.root['kind']}"
    return Document(title, _subtitle(data), data.root["id"], now, build_all(data), __version__)


def to_json(doc: Document, data: ReportData) -> str:
    d = doc.to_dict()
    for sec in d["sections"]:
        for b in sec["blocks"]:
            if b.get("kind") == "chart":
                b["svg"] = None  # the data table carries the numbers; SVG belongs to the HTML
    return json.dumps({"format": "raxlab-report", "format_version": 1, "document": d, "data": data.to_dict()},
                      indent=2, default=str, allow_nan=False)


def render(data: ReportData, fmt: str) -> str:
    """The report as text in `fmt` (html, md or json); PDF goes through `write_report`."""
    doc = document(data)
    if fmt == "html":
        from raxlab.report.html import render as html

        return html(doc)
    if fmt == "md":
        from raxlab.report.markdown import render as md

        return md(doc)
    if fmt == "json":
        return to_json(doc, data)
    raise RaxError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}", field="--format")


def write_report(store, ref: str, fmt: str = "html", out: str | Path | None = None) -> Path:
    """Render run `ref` and write it atomically; returns the path written."""
    from raxlab.report.output import default_path, write_atomic

    if fmt not in FORMATS:
        raise RaxError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}", field="--format")
    data = collect(store, ref)
    path = Path(out) if out else default_path(store.path, data.root["id"], f"report.{EXT[fmt]}")
    if fmt != "pdf":
        return write_atomic(path, render(data, fmt))
    from raxlab.report.pdf import html_to_pdf, require_chromium

    require_chromium()  # fail before rendering when there is no browser
    html_path = write_atomic(path.with_suffix(".html"), render(data, "html"))
    return html_to_pdf(html_path, path)
