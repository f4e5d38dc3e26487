"""`rax bench compute WORKLOAD`: the real training/inference step per precision and batch."""

from raxlab import fmt
from raxlab.cli.common import add_json, add_store, add_workload, console, deprecated_alias, emit

COMMAND = ("bench", "compute")
HELP = "measure the workload's training and inference step per precision and batch size"
ORDER = 20


def add_arguments(p):
    add_workload(p)
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--precision", dest="precisions",
                   help="comma list from fp32,tf32,bf16,fp16,fp8 (default: the spec's)")
    p.add_argument("--micro-batch", dest="batch_sizes",
                   help="samples per step, a comma list, e.g. 1,2,4 (default: powers of two up to --max-batch)")
    deprecated_alias(p, "--precisions", "--precision", dest="precisions")
    deprecated_alias(p, "--batch-sizes", "--micro-batch", dest="batch_sizes")
    p.add_argument("--max-batch", type=int, default=None, help="largest power-of-two batch (default 8 on CPU, 256 on GPU)")
    p.add_argument("--modes", default="train,infer", help="train, infer or both (default)")
    p.add_argument("--max-seconds", type=float, default=60.0,
                   help="time budget for the whole sweep; later points are recorded as skipped (default 60)")
    p.add_argument("--point-seconds", type=float, default=4.0, help="timing cap per point (default 4)")
    p.add_argument("--point-timeout", type=float, default=300.0, help="kill a point after this long (default 300)")
    p.add_argument("--recheck-seconds", type=float, default=None,
                   help="time for re-measuring points that contradict the other batch sizes (default: a quarter "
                        "of --max-seconds; 0: only mark them inconsistent)")
    p.add_argument("--no-gemm-probe", action="store_true", help="skip the GEMM peak probe used for MFU")
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.measure.compute_cli import run_compute

    data = run_compute(args)
    emit(args, data, _render)
    return 0


def _render(d):
    from rich.table import Table

    what = f"{d['workload']} (a runnable proxy of a meta-only model)" if d.get("proxy") else d["workload"]
    t = Table(title=f"{what} on {d['device']} (measured here, run {d['run_id']})")
    cols = ("mode", "prec", "batch", "status", "step median", "IQR/med", "samples/s", "tokens/s",
            "GFLOP/s", "MFU (GEMM here)", "MFU (catalogue)", "peak mem", "loss", "note")
    notes = []
    for c in cols:
        t.add_column(c)
    for r in d["points"]:
        t.add_row(r["mode"], r["precision"], str(r["batch"]), r["status"], _ms(r.get("median_s")),
                  _pct(r.get("rel_iqr")), _num(r.get("samples_per_s")), _num(r.get("tokens_per_s")),
                  _num(r["achieved_flops"] / 1e9 if r.get("achieved_flops") else None),
                  _pct(r.get("mfu_vs_measured_gemm")), _pct(r.get("mfu_vs_catalog_peak")),
                  _mib(r.get("peak_mem_bytes")), _num(r.get("loss_first")), _note(r, notes))
    con = console()
    con.print(t)
    for i, text in enumerate(notes, 1):
        con.print(f"[{i}] {text}")
    for prec, fl in d["peaks"].get("measured", {}).items():
        con.print(f"GEMM peak {prec}: {fmt.si(fl, 'FLOP/s', 4)} (measured here)")
    for prec, fl in d["peaks"].get("catalog", {}).items():
        con.print(f"dense peak {prec}: {fmt.si(fl, 'FLOP/s', 4)} (catalogue: {d['peaks'].get('catalog_entry')})")


def _ms(v):
    return fmt.seconds(v, 4)


def _pct(v):
    return fmt.pct(v)


def _num(v):
    return fmt.g(v)


def _mib(v):
    return fmt.nbytes(v)


def _note(r, notes: list) -> str:
    """Long reasons go under the table as numbered notes; the cell holds the number."""
    text = r.get("note")
    if not text:
        return ""
    if text not in notes:
        notes.append(text)
    return f"[{notes.index(text) + 1}]"
