"""`rax calibrate RUN`: fit the model on part of a stored run, predict the rest, store the errors."""

from raxlab import fmt
from raxlab.cli.common import add_json, add_store, console, emit

COMMAND = "calibrate"
HELP = "back-test the projection model on a stored compute or comm run (fit on part, predict the rest)"
ORDER = 45


def add_arguments(p):
    p.add_argument("run", metavar="RUN", nargs="+",
                   help="run id, unique prefix, or 'latest' (a compute or bench.comm run); several compute runs "
                        "that repeat the same sweep are pooled point by point")
    p.add_argument("--fit-on", help="compute runs: batch sizes to fit on, e.g. 1,16 (default: smallest and largest)")
    p.add_argument("--holdout", help="compute runs: batch sizes to predict instead, e.g. 4,8,16")
    p.add_argument("--stat", default="median", choices=("median", "q1", "min"),
                   help="compute runs: step-time statistic to fit and predict (default median; q1/min resist a "
                        "shared machine's interference)")
    p.add_argument("--holdout-every", type=int, default=2,
                   help="comm runs: hold out every N-th message size (default 2)")
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.errors import RaxError
    from raxlab.store import Store

    store = Store(args.store)
    kind = store.get_run(args.run[0])["kind"]
    if kind == "compute":
        from raxlab.predict.calibrate_run import calibrate_compute_run

        data = calibrate_compute_run(store, args.run, fit_on=_ints(args.fit_on, "--fit-on"),
                                     holdout=_ints(args.holdout, "--holdout"), stat=args.stat)
    elif kind == "bench.comm":
        from raxlab.predict.commfit import calibrate_comm_run

        if args.holdout_every < 2:
            raise RaxError(f"must be >= 2, got {args.holdout_every}", field="--holdout-every")
        if len(args.run) > 1:
            raise RaxError("give one comm run", field="RUN")
        data = calibrate_comm_run(store, args.run[0], holdout_every=args.holdout_every)
    else:
        raise RaxError(f"run kind {kind!r} has nothing to calibrate; give a compute run (`rax bench compute`) "
                       "or a comm run (`rax bench comm`)", field="RUN")
    emit(args, data, _render)
    return 0


def _ints(text, field):
    from raxlab.errors import RaxError

    if text is None:
        return None
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise RaxError(f"expected a comma list of batch sizes, got {text!r}", field=field) from None
    if not out:
        raise RaxError(f"expected a comma list of batch sizes, got {text!r}", field=field)
    return out


def _render(d: dict) -> None:
    from rich.table import Table

    con = console()
    runs = ", ".join(d.get("runs") or [d["run"]])
    stat = f", {d['statistic']} step" if d.get("statistic") else ""
    t = Table(title=f"calibration of run {runs} ({d['kind']}{stat}; stored as artifact 'calibration')")
    for c in ("point", "role", "measured", "predicted", "error", ""):
        t.add_column(c, justify="left" if c in ("point", "role") else "right")
    for r in d["rows"]:
        t.add_row(r["label"], r["role"], _s(r["measured_s"]), _s(r["predicted_s"]), _pct(r["error"]),
                  "noisy" if r.get("noisy") else "")
    con.print(t)
    h = d["held_out"]
    con.print(f"held-out points: {h['n']}, median |error| {_pct(h['median_abs'])}, max |error| {_pct(h['max_abs'])}")
    if d.get("fitted"):
        f = d["fitted"]
        con.print("fitted: matmul " + ", ".join(f"{k} {v:.3g}" for k, v in f["matmul"].items())
                  + f"; attention {f['attention']:.3g}; conv {f['conv']:.3g}; memory {f['mem_bw']:.3g}; "
                    f"step overhead {_s(f['step_overhead_s'])}")
    for n in d.get("notes") or []:
        con.print(f"- {n}", style="dim")


def _s(v):
    return fmt.seconds(v, 4)


def _pct(v):
    return fmt.signed_pct(v)
