"""`rax runs list`: the stored runs, newest first."""

from raxlab.cli.common import add_json, add_store, console, emit, str_list

COMMAND = ("runs", "list")
HELP = "list stored runs, newest first"
ORDER = 80


def add_arguments(p):
    p.add_argument("--kind", type=str_list, metavar="KIND[,KIND]",
                   help="only runs of these kinds: compute, kernels, io, bench.comm (comm; also `rax import "
                        "nccl-tests`), bench.ddp (ddp), abtest, run, train-log")
    p.add_argument("--limit", type=int, default=30, help="how many runs (default 30)")
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.store import Store

    db = Store(args.store, readonly=True)
    kinds = [_kind(db, k) for k in args.kind or []]
    runs = db.list_runs(limit=args.limit, kind=None) if not kinds else _of_kinds(db, kinds, args.limit)
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


def _kind(db, name: str) -> str:
    """A documented kind, a short name for one, or a kind found in this store."""
    from raxlab.errors import unknown_name
    from raxlab.store import RUN_KIND_ALIASES, RUN_KINDS

    name = RUN_KIND_ALIASES.get(name, name)
    known = sorted(set(RUN_KINDS) | set(db.kinds()))
    if name not in known:
        raise unknown_name("run kind", name, known + sorted(RUN_KIND_ALIASES), field="--kind")
    return name


def _of_kinds(db, kinds: list[str], limit: int) -> list[dict]:
    runs = [r for k in dict.fromkeys(kinds) for r in db.list_runs(limit=limit, kind=k)]
    runs.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
    return runs[:limit]
