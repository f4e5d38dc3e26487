"""The report as Markdown (GitHub-flavoured): the same sections, charts as their data tables.

User strings are escaped so that Markdown renderers show them as text: `<`, `>` and `&`
become entities (a `<script>` name stays text even where raw HTML is allowed), and Markdown
punctuation is backslash-escaped, control characters removed (`raxlab.textsafe.clean`). Code blocks use a fence longer than any backtick run inside.
"""

from __future__ import annotations

import re

from raxlab.report.doc import LABELS, Bullets, Chart, Code, Document, Facts, Heading, Label, Para, Table
from raxlab.textsafe import clean

_MD = re.compile(r"([\\`*_\[\]{}#|!~])")
PREFIX = {"note": "> ", "warn": "> **Warning:** ", "missing": "> **N/A:** ", "verdict": "> **Verdict:** ", "p": ""}


def esc(text) -> str:
    s = clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD.sub(r"\\\1", s)
    return " ".join(s.split("\n"))  # a newline would end a table row or a quote


def tag(label: Label | None) -> str:
    return f" [{label.kind}]" if label else ""


def _basis(labels: list) -> list[str]:
    seen = list(dict.fromkeys((lab.kind, lab.basis) for lab in labels if lab is not None and lab.basis))
    return [f"- *{k}*: {esc(b)}" for k, b in seen]


def table(t: Table) -> list[str]:
    out = [f"*{esc(t.caption)}*", ""] if t.caption else []
    out.append("| " + " | ".join(esc(c.title) + tag(c.label) for c in t.columns) + " |")
    out.append("|" + "|".join("---:" if c.numeric else "---" for c in t.columns) + "|")
    labels = [c.label for c in t.columns]
    for row in t.rows:
        out.append("| " + " | ".join(esc(c.text) + tag(c.label) for c in row) + " |")
        labels += [c.label for c in row]
    if not t.rows:
        out.append("| " + " | ".join(["N/A"] * len(t.columns)) + " |")
    return out + [""] + _basis(labels) + [""]


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def block(b) -> list[str]:
    if isinstance(b, Para):
        return [PREFIX.get(b.style, "") + esc(b.text), ""]
    if isinstance(b, Heading):
        return [f"### {esc(b.text)}", ""]
    if isinstance(b, Table):
        return table(b)
    if isinstance(b, Facts):
        out = [f"- **{esc(k)}**: {esc(c.text)}{tag(c.label)}" for k, c in b.items]
        return out + [""] + _basis([c.label for _, c in b.items]) + [""]
    if isinstance(b, Chart):
        out = [f"**Chart: {esc(b.title)}** (drawn in the HTML report; its data:)", ""]
        out += table(b.data) if b.data else []
        return out + ([f"*{esc(b.caption)}*", ""] if b.caption else [])
    if isinstance(b, Code):
        text = clean(b.text)
        fence = _fence(text)
        return [f"{fence}sh", text, fence, ""]
    if isinstance(b, Bullets):
        return [f"- {esc(i)}" for i in b.items] + [""]
    raise TypeError(f"no Markdown for block {type(b).__name__}")


def render(doc: Document) -> str:
    out = [f"# {esc(doc.title)}", "", esc(doc.subtitle), "", "Labels: " + "; ".join(
        f"[{k}] {v}" for k, v in LABELS.items()), ""]
    for s in doc.sections:
        out += [f"## {esc(s.title)}", ""]
        for b in s.blocks:
            out += block(b)
    out.append(f"---\nGenerated {esc(doc.generated_at)} by raxlab {esc(doc.version)} from run {esc(doc.run_id)}.")
    return "\n".join(out) + "\n"
