"""`rax import train-log WORKLOAD FILE`: step time, tokens/s and TFLOP/s from a Megatron-LM,
torchtitan or Hugging Face Trainer log, stored as calibration points with the projection's error.

    rax import train-log llama3-8b train.log --gpu h100-sxm --gpus 64 --tp 2 --pp 1 --micro-batch 2 \\
        --global-batch 512 --seq-len 8192
    rax report RUN        # the back-test section: measured vs projected, signed error

Layout flags mean what they mean in `rax predict`; what the log states itself (Megatron's argument
dump, torchtitan's batch line) fills in the rest, and a disagreement is an error.
"""

from raxlab.cli.common import add_json, add_store, add_workload, console, emit

COMMAND = ("import", "train-log")
HELP = "read a Megatron-LM / torchtitan / Hugging Face Trainer log into calibration points with the projection's error"
ORDER = 61
INTS = ("gpus", "gpus_per_node", "rails", "tp", "pp", "dp", "vpp", "micro_batch", "global_batch", "seq_len", "zero")


def add_arguments(p):
    add_workload(p)
    p.add_argument("file", metavar="FILE", help="the training log (stdout of rank 0, or the whole job's output)")
    hw = p.add_argument_group("what it ran on (the log may state some of it)")
    hw.add_argument("--gpu", help="accelerator, e.g. h100-sxm (needed for the projection)")
    for flag in ("--gpus", "--gpus-per-node", "--rails"):
        hw.add_argument(flag, type=int)
    hw.add_argument("--fabric", help="scale-out fabric, e.g. ib-ndr")
    lay = p.add_argument_group("layout (as in rax predict)")
    for flag in ("--tp", "--pp", "--dp", "--vpp", "--micro-batch", "--global-batch", "--seq-len", "--zero"):
        lay.add_argument(flag, type=int)
    lay.add_argument("--precision", help="fp32, tf32, bf16, fp16 or fp8 (default: the log's, else bf16)")
    lay.add_argument("--recompute", help="none, selective or full")
    lay.add_argument("--sequence-parallel", action="store_const", const=True, default=None)
    p.add_argument("--skip-steps", type=int, default=None,
                   help="logged steps to drop as warm-up (default: the first 10 %%, at least one of three or more)")
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.evidence.trainlog_import import import_train_log
    from raxlab.store import Store

    stated = {k: getattr(args, k) for k in (*INTS, "gpu", "fabric", "precision", "recompute", "sequence_parallel")}
    out = import_train_log(Store(args.store), args.workload, args.file, stated, skip=args.skip_steps,
                           trust_code=args.trust_code)
    emit(args, out, _render)
    return 0


def _render(d: dict) -> None:
    from rich.table import Table

    from raxlab.report import fmt

    out = console()
    lay = d["layout"]
    out.print(f"imported run {d['run_id']}: {d['framework']} log of {d['workload']}, {d['steps']} steps "
              f"({d['skipped']} warm-up skipped); layout " + ", ".join(f"{k} {v}" for k, v in lay.items()))
    t = Table(title="measured (the log) vs projected (RA:X); error = projected / measured - 1", title_justify="left")
    for c in ("quantity", "measured", "projected", "error"):
        t.add_column(c, justify="left" if c == "quantity" else "right")
    for r in d["rows"]:
        t.add_row(r["label"], fmt.g(r["measured"], 4, r["unit"]), fmt.g(r["projected"], 4, r["unit"]),
                  fmt.signed_pct(r["error"]))
    out.print(t)
    for n in d["notes"]:
        out.print(f"- {n}", style="dim")
