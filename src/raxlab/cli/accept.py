"""`rax accept PLAN.json`: on the delivered cluster, re-measure what the plan's projection rests
on and write a pass/fail acceptance report (HTML and JSON).

    rax accept plan.json                                         # one node
    rax accept plan.json --rdzv-endpoint 10.0.0.1:29400 --ifname ib0   # on every node of the cluster
    rax accept plan.json --run RUN --run RUN                     # judge stored runs (rax launch, Slurm)
"""

from __future__ import annotations

import argparse
import sys

from raxlab.cli._catalog import add_catalog_override, load
from raxlab.cli.common import (EXIT_CHECK_FAILED, EXIT_INCOMPLETE, EXIT_OK, add_json, add_store, console,
                               deprecated_alias, emit, extend_list, styled)

COMMAND = "accept"
HELP = "acceptance test of a delivered cluster against a plan: measured vs projected, pass/fail report"
ORDER = 48
EXIT = {"pass": EXIT_OK, "fail": EXIT_CHECK_FAILED, "incomplete": EXIT_INCOMPLETE}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from raxlab.launch.cluster import DEFAULT_RDZV_TIMEOUT_S

    p.add_argument("plan", metavar="PLAN.json", help="the plan file (`rax plan --out`)")
    extend_list(p, "--run", metavar="RUN",
                help="judge these stored runs (bench.comm / bench.ddp) instead of measuring: a comma list, or repeat")
    m = p.add_argument_group("measuring across the plan's nodes (run the same command on every node)")
    m.add_argument("--rdzv-endpoint", default=None, metavar="HOST:PORT",
                   help="an address of the first node (default 127.0.0.1 for a one-node plan); uses PORT and PORT+1")
    m.add_argument("--rdzv-id", default=None)
    m.add_argument("--rdzv-timeout", type=float, default=DEFAULT_RDZV_TIMEOUT_S)
    m.add_argument("--node-rank", type=int, default=None)
    m.add_argument("--ifname", default=None, help="interface for rendezvous and benchmark traffic")
    m.add_argument("--transport", default=None, help="default: nccl-ib on RDMA fabrics, nccl-socket/gloo on TCP")
    m.add_argument("--comm-max-bytes", default="256M", help="largest all-reduce (default 256M)")
    m.add_argument("--comm-iters", type=int, default=20, help="timed iterations per size (default 20)")
    m.add_argument("--steps", type=int, default=10, help="measured DDP rounds (default 10)")
    m.add_argument("--warmup", type=int, default=3, help="untimed DDP rounds (default 3)")
    p.add_argument("--out-dir", dest="out", metavar="DIR", default=None,
                   help="write acceptance.html and acceptance.json in this folder (default: the store's reports "
                        "directory)")
    deprecated_alias(p, "--out", "--out-dir (a folder; --out names one file in every command)", dest="out")
    add_catalog_override(p)
    add_json(p)
    add_store(p)


def _options(args):
    from raxlab.accept.run import AcceptOptions
    from raxlab.errors import RaxError
    from raxlab.launch.cluster import parse_endpoint

    host, port = parse_endpoint(args.rdzv_endpoint or "127.0.0.1")
    if args.steps < 1 or args.warmup < 1 or args.comm_iters < 1:
        raise RaxError("need --steps, --warmup and --comm-iters >= 1", field="--steps")
    return AcceptOptions(host, port, args.rdzv_id, args.rdzv_timeout, args.ifname, args.node_rank, args.transport,
                         args.comm_max_bytes, args.comm_iters, args.steps, args.warmup)


def _stored(db, refs: list[str]) -> dict:
    from raxlab.errors import RaxError

    runs = {}
    for ref in refs:
        run = db.get_run(ref)
        kind = {"bench.comm": "comm", "bench.ddp": "ddp"}.get(run["kind"])
        if kind is None:
            raise RaxError(f"run {run['id']} is a {run['kind']} run; give bench.comm and bench.ddp runs", field="--run")
        runs[kind] = run
    return runs


def run(args) -> int:
    from raxlab.accept import report
    from raxlab.accept.plan import read_plan
    from raxlab.accept.run import bench_commands, measure, transport_for
    from raxlab.errors import RaxError
    from raxlab.store import Store

    target, cat = read_plan(args.plan), load(args)
    if target.fabric and target.nodes > 1:
        cat.fabric(target.fabric)  # an unknown fabric fails now, not after the measurements
    if target.nodes > 1 and not args.run and not args.rdzv_endpoint:
        raise RaxError(f"the plan has {target.nodes} nodes: give the first node's address, e.g. --rdzv-endpoint "
                       "10.0.0.1:29400, and run the same command on every node", field="--rdzv-endpoint")
    db, commands = Store(args.store), {}
    if args.run:
        runs = _stored(db, args.run)
    else:
        o = _options(args)
        commands = bench_commands(target, transport_for(target, cat, o), o)
        ids = measure(target, cat, o, db, None if args.json else _progress())
        if not any(ids.values()):
            note = "this node took part in the measurements; the node running global rank 0 stored and judges them"
            emit(args, {"verdict": None, "note": note}, lambda d: print(d["note"]))
            return EXIT_OK
        runs = {k: db.get_run(v) for k, v in ids.items() if v}
    result = report.acceptance(target, runs, cat, commands)
    import shlex

    given = sys.argv[2:] if sys.argv[1:2] == ["accept"] else [args.plan]  # as typed, for the report
    result["invocation"] = shlex.join(["rax", "accept", *given])
    result["files"] = report.write(result, args.out or _default_out(db, runs))
    emit(args, result, _render)
    return EXIT[result["verdict"]]


def _default_out(db, runs: dict) -> str:
    from raxlab.report.output import reports_dir

    key = (runs.get("ddp") or runs.get("comm") or {}).get("id", "runs")
    return str(reports_dir(db.path, f"accept-{key}"))


def _progress():
    con = console()

    def show(ev: dict) -> None:
        if ev.get("ev") == "measure":
            con.print(styled((f"measuring {ev['kind']}", "bold"), f": {' '.join(ev['command'])}"))
        elif ev.get("ev") == "begin" and ev.get("rank") == 0:
            con.print(f"  {ev.get('what')} ...")
    return show


def _render(r: dict) -> None:
    from rich.table import Table

    t = Table(title=f"rax accept {r['plan']['path']}: {r['verdict'].upper()}", title_justify="left")
    for col in ("check", "measured", "projected", "deviation", "tolerance", "verdict"):
        t.add_column(col)
    for c in r["checks"]:
        fmt = (lambda v: "N/A" if v is None else f"{v:.4g} {c['unit']}")
        dev = "N/A" if c["deviation"] is None else f"{c['deviation']:+.1%}"
        t.add_row(c["name"], fmt(c["measured"]), fmt(c["projected"]), dev, c["tolerance"] or c["note"],
                  c["verdict"])
    con = console()
    con.print(t)
    con.print(r["sentence"])
    con.print(f"report: {r['files']['html']} and {r['files']['json']}")
    sys.stdout.flush()
