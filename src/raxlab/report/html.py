"""One self-contained HTML file: inline CSS, inline SVG charts, no script, no external
resource. A Content-Security-Policy forbids loading anything (and running any script), so
the page works offline from file:// and an escaping slip could not execute code.

Every user string passes through `esc` (control characters removed, html.escape with quotes); SVG text was escaped by
svg.py. Print CSS puts each section on its own page and keeps charts and rows whole.
"""

from __future__ import annotations

from html import escape

from raxlab.report.doc import LABELS, Bullets, Chart, Code, Document, Facts, Heading, Label, Para, Table
from raxlab.report.style import CSS
from raxlab.textsafe import clean

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
PARA_CLASS = {"p": "", "note": "note", "warn": "warn", "missing": "missing", "verdict": "verdict"}


def esc(text) -> str:
    return escape(clean(text), quote=True)


def badge(label: Label | None) -> str:
    if label is None:
        return ""
    return f'<span class="lab lab-{esc(label.kind)}" title="{esc(label.basis)}">{esc(label.kind)}</span>'


def _basis_lines(labels: list[Label]) -> str:
    """The basis of every label in a block, printed (titles do not survive printing)."""
    seen = list(dict.fromkeys((lab.kind, lab.basis) for lab in labels if lab is not None and lab.basis))
    if not seen:
        return ""
    items = "".join(f"<li>{badge(Label(k))} {esc(b)}</li>" for k, b in seen)
    return f'<ul class="basis">{items}</ul>'


def shared_label(t: Table) -> Label | None:
    """The one label every labelled column of `t` carries (then it is shown once, by the
    caption, instead of in each header: narrower tables that fit a printed page)."""
    labels = {c.label for c in t.columns if c.label is not None}
    if len(labels) != 1 or any(cell.label for row in t.rows for cell in row):
        return None
    return labels.pop()


def table(t: Table) -> str:
    shared = shared_label(t)
    head = "".join(f'<th class="{"num" if c.numeric else ""}">{esc(c.title)}'
                   f'{"" if shared else " " + badge(c.label)}</th>' for c in t.columns)
    body = []
    labels = [c.label for c in t.columns]
    for row in t.rows:
        tds = []
        for col, c in zip(t.columns, row):
            labels.append(c.label)
            tds.append(f'<td class="{"num" if col.numeric else ""}">{esc(c.text)}{" " + badge(c.label) if c.label else ""}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    if not t.rows:
        body.append(f'<tr><td colspan="{len(t.columns)}" class="missing">no rows (N/A)</td></tr>')
    note = f" {badge(shared)} all numbers in this table" if shared else ""
    cap = f"<caption>{esc(t.caption)}{note}</caption>" if t.caption or shared else ""
    return (f'<div class="tablewrap"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            f"{_basis_lines(labels)}</div>")


def facts(f: Facts) -> str:
    items = []
    for key, c in f.items:
        basis = f'<div class="fbasis">{esc(c.label.basis)}</div>' if c.label and c.label.basis else ""
        items.append(f'<div class="fact"><div class="fkey">{esc(key)} {badge(c.label)}</div>'
                     f'<div class="fval">{esc(c.text)}</div>{basis}</div>')
    return f'<div class="facts">{"".join(items)}</div>'


def chart(c: Chart) -> str:
    cap = f"<figcaption>{esc(c.caption)}</figcaption>" if c.caption else ""
    labels = [col.label for col in c.data.columns] if c.data else []
    labels += [cell.label for row in (c.data.rows if c.data else []) for cell in row]
    cls = "chart half" if c.half else "chart"
    return (f'<figure class="{cls}" id="chart-{esc(c.key)}" data-chart="{esc(c.key)}"><h4>{esc(c.title)}</h4>'
            f"{c.svg}{cap}{_basis_lines(labels)}</figure>")


def block(b) -> str:
    if isinstance(b, Para):
        cls = PARA_CLASS.get(b.style, "")
        return f'<p class="{cls}">{esc(b.text)}</p>'
    if isinstance(b, Heading):
        return f"<h3>{esc(b.text)}</h3>"
    if isinstance(b, Table):
        return table(b)
    if isinstance(b, Facts):
        return facts(b)
    if isinstance(b, Chart):
        return chart(b)
    if isinstance(b, Code):
        return f"<pre><code>{esc(b.text)}</code></pre>"
    if isinstance(b, Bullets):
        return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in b.items) + "</ul>"
    raise TypeError(f"no HTML for block {type(b).__name__}")


def _legend() -> str:
    items = "".join(f"<li>{badge(Label(k))} {esc(v)}</li>" for k, v in LABELS.items())
    return f'<ul class="legend-labels">{items}</ul>'


def _toc(doc: Document) -> str:
    items = "".join(f'<li><a href="#sec-{esc(s.key)}">{esc(s.title)}</a></li>' for s in doc.sections)
    return f'<nav class="toc"><ol>{items}</ol></nav>'


def render(doc: Document) -> str:
    sections = []
    for s in doc.sections:
        inner = "".join(block(b) for b in s.blocks)
        sections.append(f'<section class="section" id="sec-{esc(s.key)}" data-section="{esc(s.key)}">'
                        f"<h2>{esc(s.title)}</h2>{inner}</section>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(doc.title)}</title><style>{CSS}</style></head><body>"
        f'<header class="cover"><h1>{esc(doc.title)}</h1><p class="subtitle">{esc(doc.subtitle)}</p>'
        f'<div class="cover-grid">{_toc(doc)}<div><p class="small">How to read the numbers:</p>{_legend()}</div></div>'
        f"</header><main>{''.join(sections)}</main>"
        f'<footer>Generated {esc(doc.generated_at)} by raxlab {esc(doc.version)} from run {esc(doc.run_id)}. '
        "Numbers are labelled measured (here, on the machine named), projected (with the model's error band) "
        "or catalogue (with source and date).</footer></body></html>\n"
    )
