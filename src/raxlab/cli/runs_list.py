"""`rax runs list`: the stored runs, newest first."""

from raxlab.cli.common import add_json, add_store, console, emit

COMMAND = ("runs", "list")
HELP = "list stored runs, newest first"
ORDER = 80


def add_arguments(p):
    p.add_argument("--kind", help="only runs of this kind (e.g. compute, comm, abtest, run)")
    p.add_argument("--limit", type=int, default=30, help="how many runs (default 30)")
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.store import Store

    runs = Store(args.store).list_runs(limit=args.limit, kind=args.kind)
    emit(args, runs, _render)
    return 0


def _render(runs):
    from rich.table import Table

    t = Table(title="stored runs")
    for col in ("id", "kind", "workload", "status", "points", "created (UTC)"):
        t.add_column(col)
    for r in runs:
        status = f"stale (pid {r['writer']['pid']} gone)" if r.get("stale") else r["status"]
        t.add_row(r["id"], r["kind"], r["workload"] or "-", status, str(r["n_points"]),
                  r["created_at"][:19].replace("T", " "))
    console().print(t if runs else "no runs stored yet")
