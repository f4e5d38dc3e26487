"""`rax run [WORKLOAD]`: card, measurements here, calibration, plan and report in one go."""

from raxlab.cli.common import add_json, add_store, emit

COMMAND = "run"
HELP = "the whole consulting run: measure here, project, plan, report (default workload: llm-1b-pretrain)"
ORDER = 1


def add_arguments(p):
    p.add_argument("workload", metavar="WORKLOAD", nargs="?", default=None,
                   help="a WorkloadSpec YAML file or a preset name (default: llm-1b-pretrain)")
    p.add_argument("--trust-code", action="store_true", help="allow the workload's own Python code to run")
    p.add_argument("--quick", action="store_true", help="smaller sweeps (about a minute on 2 cores)")
    p.add_argument("--no-comm", action="store_true", help="skip the collective and DDP measurements")
    p.add_argument("--skip", default="", help="comma list of stages to skip (card, compute, kernels, io, comm, "
                                              "ddp, calibrate, plan, report)")
    p.add_argument("--max-minutes", type=float, default=None, help="time budget for the measurement stages")
    p.add_argument("--resume", metavar="RUN", default=None, help="continue an interrupted `rax run`")
    p.add_argument("--catalog-override", metavar="FILE", default=None, help="your own prices and parts (YAML)")
    p.add_argument("--format", dest="report_format", default="html", choices=("html", "md", "json", "pdf"),
                   help="report format (default html)")
    p.add_argument("--out", default=None, help="report path (default: under the per-user reports folder)")
    add_json(p)
    add_store(p)


def run(args) -> int:
    import sys

    from raxlab.pipeline import DEFAULT_WORKLOAD, Pipeline, RunOptions

    if args.out:  # a link, device or missing directory fails now, not after minutes of measuring
        from raxlab.outfile import check_target

        check_target(args.out, field="--out")
    opts = RunOptions(workload=args.workload or DEFAULT_WORKLOAD, trust_code=args.trust_code, quick=args.quick,
                      no_comm=args.no_comm, skip=[s.strip() for s in args.skip.split(",") if s.strip()],
                      max_minutes=args.max_minutes, resume=args.resume, store=args.store,
                      catalog_override=args.catalog_override, report_format=args.report_format, out=args.out)
    say = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    summary = Pipeline(opts, say=say).run()
    emit(args, summary, lambda s: _final(s))
    return 0


def _final(s: dict) -> None:
    """The answer first (what to buy, cost, time, verdicts and how sure), then where the report is."""
    report = (s.get("report") or {}).get("path")
    print(f"run {s['run_id']} done: " + ", ".join(f"{k} {v}" for k, v in s["stages"].items()))
    if s.get("answer"):
        render_answer(s["answer"])
    else:
        print("no plan in this run (the plan stage did not finish): no purchase guideline")
    print(f"report: {report}" if report else f"report: rax report {s['run_id']}")


def render_answer(a: dict) -> None:
    from raxlab.cli.common import console

    out = console()
    ok = "meets every target" if a["meets_targets"] else "MEETS NOT every target: the closest candidate"
    out.print(f"answer ({ok}; every number below is projected from the measurements and the catalogue):", style="bold")
    for line in a["guideline"]:
        out.print(f"  - {line}")
    v = a["verdicts"]
    for name, label in (("network", "network verdict"), ("precision", "precision verdict"),
                        ("accelerator", "GPU verdict")):
        sure = _sureness(v.get(name) or {})
        if sure:
            out.print(f"  {label}: {sure}", style="dim")
    if a.get("missing"):
        out.print(f"  missing: {a['missing']}")


def _sureness(v: dict) -> str:
    """How sure a verdict is: its basis and the tie threshold it was judged against."""
    from raxlab.report import fmt

    bits = []
    if v.get("basis"):
        bits.append(f"basis {v['basis']}")
    if v.get("tie_threshold") is not None:
        bits.append(f"differences under {fmt.pct(v['tie_threshold'])} are ties")
    if v.get("confidence"):
        bits.append(f"confidence {v['confidence']}")
    return "; ".join(bits)
