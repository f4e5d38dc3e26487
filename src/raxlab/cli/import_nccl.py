"""`rax import nccl-tests FILE...`: nccl-tests output of your cluster as a stored comm run.

    rax import nccl-tests all_reduce_perf.log all_gather_perf.log --fabric ib-ndr --rails 8
    rax predict llama3-70b --gpu h100-sxm --gpus 1024 --fabric ib-ndr --comm-run latest ...
    rax plan llama3-70b --run RUN

The run is stored like `rax bench comm` stores one (kind bench.comm, one point per size, the α-β
fit), marked `source: imported` with each file's SHA-256.
"""

from raxlab.cli.common import add_json, add_store, console, emit

COMMAND = ("import", "nccl-tests")
HELP = "read nccl-tests output (all_reduce_perf, all_gather_perf, ...) into a stored comm run with its alpha-beta fit"
ORDER = 60


def add_arguments(p):
    p.add_argument("files", metavar="FILE", nargs="+", help="nccl-tests output, as printed (several runs per file are fine)")
    p.add_argument("--collective", help="for a file that does not name its binary: all_reduce, all_gather, "
                                        "reduce_scatter, all_to_all, send_recv, broadcast, reduce")
    p.add_argument("--ranks", type=int, help="for a log without `# Rank N ...` lines: how many ranks ran")
    p.add_argument("--transport", help="what carried it (nccl-ib, nccl-socket, nccl) when the log has no "
                                       "NCCL_DEBUG=INFO lines that say")
    p.add_argument("--fabric", help="the catalogue fabric it ran on (e.g. ib-ndr); `rax plan --run` then applies the "
                                    "fit to that fabric without --measured-fabric")
    p.add_argument("--rails", type=int, help="NICs per node in that measurement (with --fabric)")
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.errors import RaxError
    from raxlab.evidence.importer import import_nccl_tests
    from raxlab.store import Store

    if args.fabric:
        from raxlab.catalog import load_catalog

        load_catalog().fabric(args.fabric)  # an unknown name fails before anything is stored
    if args.rails is not None and args.rails < 1:
        raise RaxError(f"must be >= 1, got {args.rails}", field="--rails")
    out = import_nccl_tests(Store(args.store), args.files, collective=args.collective, ranks=args.ranks,
                            transport=args.transport, fabric=args.fabric, rails=args.rails)
    emit(args, out, _render)
    return 0


def _render(d: dict) -> None:
    from rich.table import Table

    from raxlab.predict.projection import fmt

    out = console()
    t = Table(title=f"imported run {d['run_id']}: {d['points']} sizes from {len(d['files'])} file(s), "
                    f"{len(d['hosts'])} host(s)", title_justify="left")
    for c in ("collective", "transport", "ranks", "dtype", "alpha us", "busbw GB/s (peak)", "n 1/2", "R2", "note"):
        t.add_column(c)
    for f in d["fits"]:
        t.add_row(f["collective"], f["transport"], str(f["ranks"]), f["dtype"], fmt(f["alpha_us"], "", 3),
                  fmt(f["beta_GBps"], "", 4), fmt(f["n_half_bytes"], " B", 3), fmt(f["r2"], "", 3), f["note"] or "")
    out.print(t)
    if d["wrong"]:
        out.print(f"{d['wrong']} wrong elements reported by nccl-tests: those sizes are stored as failed and not fitted",
                  style="bold")
    out.print(f"use it: rax predict WORKLOAD ... --comm-run {d['run_id']}   or   rax plan WORKLOAD --run {d['run_id']}")
