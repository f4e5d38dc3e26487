"""`rax bench kernels`: GEMM per dtype, STREAM memory bandwidth, host<->device copies."""

from raxlab import fmt
from raxlab.cli.common import add_json, add_store, console, deprecated_alias, emit

COMMAND = ("bench", "kernels")
HELP = "measure kernel ceilings: GEMM TFLOP/s per dtype, memory bandwidth, host<->device copies"
ORDER = 21


def add_arguments(p):
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--precision", dest="precisions", default="fp32,tf32,bf16,fp16,fp8",
                   help="comma list from fp32,tf32,bf16,fp16,fp8 (default: all)")
    p.add_argument("--point-seconds", dest="max_seconds", type=float, default=3.0,
                   help="timing cap per point (default 3)")
    deprecated_alias(p, "--precisions", "--precision", dest="precisions")
    deprecated_alias(p, "--max-seconds", "--point-seconds (a cap per point)", dest="max_seconds", type=float)
    p.add_argument("--point-timeout", type=float, default=120.0,
                   help="kill a point after this many seconds (default 120)")
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.measure.kernels_cli import run_kernels

    emit(args, run_kernels(args), _render)
    return 0


def _render(d):
    from rich.table import Table

    t = Table(title=f"kernel ceilings on {d['device']} (measured, run {d['run_id']})")
    for c in ("point", "status", "median", "IQR/med", "TFLOP/s", "GB/s", "note"):
        t.add_column(c)
    for r in d["points"]:
        t.add_row(r["name"], r["status"], _f(r["median_s"], "s"), _f(r["rel_iqr"], "%"),
                  _f(r["tflops"]), _f(r["gbps"]), (r["error"] or ("noisy" if r["noisy"] else ""))[:100])
    con = console()
    con.print(t)
    th = d.get("cpu_theoretical")
    for prec, fl in d["ceilings"]["gemm_flops"].items():
        extra = ""
        if th and prec == "fp32":
            extra = f" = {fl / th['fp32_flops']:.0%} of the CPU's theoretical {th['fp32_flops'] / 1e9:.0f} GFLOP/s ({th['basis']})"
        con.print(f"GEMM {prec} peak (measured): {fl / 1e12:.4g} TFLOP/s{extra}")


def _f(v, unit=""):
    if unit == "%":
        return fmt.pct(v)
    if unit == "s":
        return fmt.seconds(v)
    return fmt.g(v)
