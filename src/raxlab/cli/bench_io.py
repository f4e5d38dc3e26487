"""`rax bench io WORKLOAD`: DataLoader throughput from the data sample at 0, 1, 2, ... workers."""

from raxlab import fmt
from raxlab.cli.common import add_json, add_store, add_workload, console, deprecated_alias, emit

COMMAND = ("bench", "io")
HELP = "measure data-loading throughput from the workload's data sample"
ORDER = 22


def add_arguments(p):
    add_workload(p)
    p.add_argument("--micro-batch", dest="batch", type=int, default=None,
                   help="loader batch size: one rank's samples per step (default: the spec's micro_batch)")
    deprecated_alias(p, "--batch", "--micro-batch", dest="batch", type=int)
    p.add_argument("--max-workers", type=int, default=None, help="largest worker count (default: usable cores)")
    p.add_argument("--point-seconds", dest="seconds", type=float, default=3.0,
                   help="timed iteration per worker count (default 3)")
    deprecated_alias(p, "--seconds", "--point-seconds", dest="seconds", type=float)
    p.add_argument("--compare-run", metavar="RUN", default=None,
                   help="compute run to compare with (default: the latest compute run of this workload)")
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.measure.io_cli import run_io

    emit(args, run_io(args), _render)
    return 0


def _render(d):
    from rich.table import Table

    t = Table(title=f"data loading: {d['workload']} (measured here, run {d['run_id']})")
    for c in ("workers", "status", "samples/s", "MB/s", "batch p50", "start-up", "note"):
        t.add_column(c)
    for r in d["points"]:
        t.add_row(str(r["workers"]), r["status"], _n(r.get("samples_per_s")), _n(r.get("mbytes_per_s")),
                  _ms(r.get("batch_median_s")), _ms(r.get("startup_s")), (r.get("note") or "")[:90])
    con = console()
    con.print(t)
    con.print(f"step to feed: {d['step_basis']}")
    con.print(f"verdict: {d['starvation']['verdict']} - {d['starvation']['sentence']}")


def _n(v):
    return fmt.g(v)


def _ms(v):
    return fmt.seconds(v)
