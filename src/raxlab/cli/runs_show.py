"""`rax runs show RUN`: everything stored for one run."""

import json

from raxlab.cli.common import add_json, add_store, console, emit, styled

COMMAND = ("runs", "show")
HELP = "show one stored run: header, fingerprints, points, artifacts"
ORDER = 81


def add_arguments(p):
    p.add_argument("run", metavar="RUN", help="run id, unique prefix, or 'latest'")
    p.add_argument("--samples", action="store_true", help="also print raw samples")
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.store import Store

    data = Store(args.store, readonly=True).get_run(args.run)
    emit(args, data, lambda d: _render(d, args.samples))
    return 0


def _render(run, samples: bool):
    from rich.table import Table

    con = console()
    con.print(styled((f"run {run['id']}", "bold"), f"  kind={run['kind']}  workload={run['workload'] or '-'}"
              f"  status={run['status']}  created={run['created_at']}  finished={run['finished_at'] or '-'}"))
    for role, fp in run["fingerprints"].items():
        gpus = ", ".join(g["name"] for g in fp.get("gpus", [])) or "none"
        con.print(f"fingerprint [{role}]: {fp.get('hostname')} ({fp.get('machine_id')}), "
                  f"CPU {fp.get('cpu', {}).get('model')} x{fp.get('cpu', {}).get('usable_cores')}, "
                  f"GPUs {gpus}, torch {fp.get('torch')}")
    t = Table(title=f"{run['n_points']} points")
    for col in ("#", "kind", "name", "status", "result / error"):
        t.add_column(col)
    for p in run["points"]:
        detail = p["error"].splitlines()[0] if p["error"] else _short(p["result"])
        t.add_row(str(p["seq"]), p["kind"], p["name"], p["status"], detail)
        if samples and p["samples"]:
            t.add_row("", "", "samples", "", ", ".join(f"{s:.6g}" for s in p["samples"]))
    con.print(t)
    for name, art in run["artifacts"].items():
        con.print(styled("artifact ", (name, "bold"), f": {_short(art, 300)}"))
    view = SUMMARY_VIEWS.get(run["kind"])
    if view is not None:  # the command's own summary, rebuilt from what was stored
        import importlib

        mod, fn = view.split(":")
        getattr(importlib.import_module(mod), fn)(run)


SUMMARY_VIEWS = {"abtest": "raxlab.cli.abtest:render_stored", "bench.ddp": "raxlab.cli.bench_ddp:render_stored"}


def _short(obj, limit: int = 120) -> str:
    text = json.dumps(obj, default=str) if obj is not None else "-"
    return text if len(text) <= limit else text[: limit - 3] + "..."
