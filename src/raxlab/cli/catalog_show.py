"""`rax catalog show NAME`: one part, every number with its unit, SI value and provenance."""

from __future__ import annotations

from raxlab.cli._catalog import add_catalog_override, cell, console, load
from raxlab.cli.common import add_json, emit, styled

COMMAND = ("catalog", "show")
HELP = "show one catalogue part with the source (or estimate) and date of every number"
ORDER = 61


def add_arguments(parser) -> None:
    parser.add_argument("name", metavar="NAME", help="exact part name (or KIND/NAME), e.g. h100-sxm")
    add_json(parser)
    add_catalog_override(parser)


def run(args) -> int:
    entry = load(args).find(args.name)
    data = entry.to_dict() | {"origin": entry.origin, "overridden": sorted(entry.overridden_fields)}
    emit(args, data, lambda _d: _render(entry))
    return 0


def _why(p) -> str:
    """One provenance text: the source, or the estimate's reasoning (with what it cites)."""
    why = f"estimate: {p.estimate}" + (f" [{p.source}]" if p.source else "") if p.is_estimate else p.source
    return (f"({p.basis} price) " if p.basis not in (None, "estimate") else "") + why + (f" -- {p.note}" if p.note else "")


def _render(entry) -> None:
    from rich.table import Table

    con = console()
    con.print(styled((f"{entry.KIND} {entry.name}", "bold"), f": {entry.spec.title}  ({entry.origin})"))
    plain = entry.spec.model_dump(mode="json", exclude_none=True,
                                  exclude={"name", "title", "source", "estimate", "as_of", *entry.q_fields()})
    for key, value in plain.items():
        con.print(f"  {key}: {', '.join(value) if isinstance(value, list) else value}")
    refs: dict[str, int] = {}  # many numbers share one source: number them once
    table = Table(title_justify="left")
    for header in ("field", "value", "unit", "SI", "label", "as of", "ref"):
        table.add_column(header, overflow="fold")
    for field, p in entry.numbers().items():
        ref = refs.setdefault(_why(p), len(refs) + 1)
        table.add_row(field, cell(entry, field), p.unit, f"{p.si_value:.4g} {p.si_unit}",
                      p.label, p.as_of, f"[{ref}]")
    con.print(table)
    for text, ref in refs.items():
        con.print(f"[{ref}] {text}", highlight=False)
