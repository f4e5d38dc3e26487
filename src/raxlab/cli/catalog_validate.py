"""`rax catalog validate [FILE]`: strict load plus consistency checks.

Without FILE: the built-in data and the override in effect ($RAX_CATALOG_OVERRIDE or the
standard path). With FILE: that file merged over the built-in data, exactly as an override.
Exit 0 when clean, 1 when the consistency checks find disagreements, 2 on a load error.
"""

from __future__ import annotations

from raxlab.cli._catalog import console
from raxlab.cli.common import add_json, emit, styled

COMMAND = ("catalog", "validate")
HELP = "check the catalogue (or your override FILE): schema, units, sources, derived numbers"
ORDER = 62


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", nargs="?", default=None,
                        help="a catalogue override file to check (merged over the built-in data)")
    add_json(parser)


def run(args) -> int:
    from raxlab.catalog import builtin_files, consistency_issues, load_catalog

    cat = load_catalog(args.file)  # None: the override in effect, if any
    issues = consistency_issues(cat)
    data = {
        "ok": not issues,
        "files": [label for _, label in builtin_files()]
                 + ([str(cat.override_path)] if cat.override_path else []),
        "entries": {k: len(cat.names(k)) for k in cat.kinds},
        "estimated_numbers": sum(p.is_estimate for e in cat for p in e.numbers().values()),
        "numbers": sum(len(e.numbers()) for e in cat),
        "overridden_entries": sorted(e.name for e in cat if e.overridden),
        "issues": issues,
    }
    emit(args, data, _render)
    return 0 if not issues else 1


def _render(d: dict) -> None:
    con = console()
    counts = ", ".join(f"{n} {k}" for k, n in d["entries"].items())
    con.print(f"files: {', '.join(d['files'])}")
    con.print(f"entries: {counts}")
    con.print(f"numbers: {d['numbers']} ({d['estimated_numbers']} estimates, each with its reasoning)")
    if d["overridden_entries"]:
        con.print(f"overridden: {', '.join(d['overridden_entries'])}")
    for issue in d["issues"]:
        con.print(styled(("inconsistent", "red"), f" {issue}"))
    con.print("ok", style="green") if d["ok"] else con.print(f"{len(d['issues'])} consistency issue(s)", style="red")
