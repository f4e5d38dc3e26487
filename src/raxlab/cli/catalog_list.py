"""`rax catalog list [KIND]`: the catalogue's parts as tables (or JSON)."""

from __future__ import annotations

from raxlab.cli._catalog import COLUMNS, LEGEND, add_catalog_override, console, load, resolve_kind, summary
from raxlab.cli.common import add_json, emit

COMMAND = ("catalog", "list")
HELP = "list catalogue parts: accelerators, servers, nics, fabrics, switches, cables, storage"
ORDER = 60


def add_arguments(parser) -> None:
    parser.add_argument("kind", metavar="KIND", nargs="?", default=None,
                        help="one kind only (accelerator, server, nic, fabric, switch, cable, storage)")
    add_json(parser)
    add_catalog_override(parser)


def run(args) -> int:
    cat = load(args)
    kinds = [resolve_kind(args.kind)] if args.kind else list(cat.kinds)
    data = {k: [summary(e) for e in cat.all(k)] for k in kinds}
    emit(args, data, lambda _d: _render(cat, kinds))
    return 0


def _render(cat, kinds: list[str]) -> None:
    from rich.table import Table

    con = console()
    for kind in kinds:
        table = Table(title=f"{kind} ({len(cat.names(kind))})", title_justify="left")
        for header, _ in COLUMNS[kind]:
            table.add_column(header, overflow="fold")
        for entry in cat.all(kind):
            table.add_row(*(fn(entry) for _, fn in COLUMNS[kind]))
        con.print(table)
    note = f"override: {cat.override_path}" if cat.override_path else "no override file"
    con.print(f"{LEGEND}\n{note}")
