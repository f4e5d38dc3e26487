"""`rax presets`: the built-in workloads (complete specs usable wherever WORKLOAD is asked)."""

from raxlab.cli.common import add_json, console, emit

COMMAND = "presets"
HELP = "list the built-in workload presets"
ORDER = 15


def add_arguments(p):
    add_json(p)


def run(args) -> int:
    from raxlab.workload.presets import preset_rows

    emit(args, preset_rows(), _render)
    return 0


def _render(rows):
    from rich.table import Table

    t = Table(title="workload presets (use the name as WORKLOAD)")
    for col in ("name", "kind", "model", "shape", "batch", "meta only", "description"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["name"], r["kind"], r["model_summary"], r["shape"],
                  f"{r['micro_batch']} / {r['global_batch']}", "yes" if r["meta_only"] else "",
                  r["description"] or "")
    console().print(t)
