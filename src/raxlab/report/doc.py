"""The report as a neutral document: sections of paragraphs, labelled tables and charts.

Sections build this model from `ReportData`; `html.py`, `markdown.py` and the JSON form
render it. All text here is *plain text* (user strings included): escaping is the
renderers' job, done in one place each, so no section can forget it.

Labels carry DESIGN.md's honesty rule: every number is *measured* (here, on what),
*projected* (from what, with what band) or *catalogue* (source and date). Two more kinds
keep the rule honest where a number is neither: *input* (the user's own targets) and
*estimate* / *override* (catalogue numbers without a public source, or from the user's
override file).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

LABELS = {
    "measured": "measured here (on the machine named), or counted from your model (the card)",
    "projected": "projected by the model",
    "catalogue": "catalogue (published source)",
    "estimate": "catalogue estimate (no public source)",
    "override": "your catalogue override",
    "input": "your input (workload spec)",
}


@dataclass(frozen=True)
class Label:
    kind: str  # a key of LABELS
    basis: str = ""  # on what / from what / source and date

    def __post_init__(self):
        if self.kind not in LABELS:
            raise ValueError(f"unknown label kind {self.kind!r}")


@dataclass
class Cell:
    text: str
    label: Label | None = None  # overrides the column's label
    value: float | None = None  # the raw number, for JSON consumers


@dataclass
class Column:
    title: str
    label: Label | None = None  # applies to every cell below unless a cell has its own
    numeric: bool = False


@dataclass
class Table:
    columns: list[Column]
    rows: list[list[Cell]]
    caption: str = ""
    kind: str = "table"


@dataclass
class Para:
    text: str
    style: str = "p"  # p | note | warn | missing | verdict
    kind: str = "para"


@dataclass
class Facts:
    """Key facts in a grid: the guideline's one-screen summary."""

    items: list[tuple[str, Cell]]
    kind: str = "facts"


@dataclass
class Chart:
    key: str  # stable id, e.g. "pareto"
    title: str
    svg: str  # built by svg.py from escaped text
    caption: str = ""
    data: Table | None = None  # the plotted numbers, for Markdown and JSON
    half: bool = False  # drawn half-width, beside its neighbour
    kind: str = "chart"


@dataclass
class Code:
    text: str
    kind: str = "code"


@dataclass
class Bullets:
    items: list[str]
    kind: str = "bullets"


@dataclass
class Heading:
    text: str
    kind: str = "heading"


@dataclass
class Section:
    key: str
    title: str
    blocks: list = field(default_factory=list)

    def add(self, *blocks) -> "Section":
        self.blocks.extend(b for b in blocks if b is not None)
        return self

    def missing(self, text: str) -> "Section":
        """The 'not measured in this run' line: a section without data says so."""
        return self.add(Para(text, "missing"))


@dataclass
class Document:
    title: str
    subtitle: str
    run_id: str
    generated_at: str
    sections: list[Section]
    version: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def charts(self) -> list[Chart]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Chart)]


def cell(text: str, label: Label | None = None, value=None) -> Cell:
    from raxlab.report.fmt import num

    return Cell(text, label, num(value))


def kv_table(rows: list[tuple[str, str]], label: Label | None = None, caption: str = "") -> Table:
    """A two-column 'what / value' table."""
    return Table([Column("what"), Column("value", label)], [[Cell(k), Cell(v)] for k, v in rows], caption)
