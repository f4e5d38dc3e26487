"""`rax bench kernels`: GEMM per dtype, STREAM memory bandwidth, host<->device copies."""

from raxlab.cli.common import add_json, add_store, console, emit

COMMAND = ("bench", "kernels")
HELP = "measure kernel ceilings: GEMM TFLOP/s per dtype, memory bandwidth, host<->device copies"
ORDER = 21


def add_arguments(p):
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--precisions", default="fp32,tf32,bf16,fp16,fp8",
                   help="comma list from fp32,tf32,bf16,fp16,fp8 (default: all)")
    p.add_argument("--max-seconds", type=float, default=3.0, help="time cap per point (default 3)")
    p.add_argument("--point-timeout", type=float, default=120.0,
                   help="kill a point after this many seconds (default 120)")
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.measure import kernels
    from raxlab.measure.device import PRECISIONS, resolve_device
    from raxlab.measure.isolate import require_positive_timeout
    from raxlab.measure.session import Session
    from raxlab.measure.timing import Policy
    from raxlab.errors import RaxError

    device = resolve_device(args.device)
    precs = [x.strip() for x in args.precisions.split(",") if x.strip()]
    bad = [x for x in precs if x not in PRECISIONS]
    if bad or not precs:
        raise RaxError(f"unknown precision(s) {bad}; allowed: {', '.join(PRECISIONS)}", field="--precisions")
    timeout = require_positive_timeout(args.point_timeout)
    policy = Policy(min_reps=5, max_reps=100, max_seconds=require_positive_timeout(args.max_seconds, "--max-seconds"))
    total = len(kernels.default_points(device, precs))
    with Session("kernels", store=args.store, params=vars_json(args), total=total) as s:
        rows = kernels.sweep(s, device, precs, policy, timeout)
        ceil = kernels.ceilings(rows)
        s.store.put_artifact(s.run_id, "ceilings", ceil)
    fp = s.store.get_run(s.run_id)["fingerprints"]["host"]
    data = {"run_id": s.run_id, "device": device, "ceilings": ceil,
            "cpu_theoretical": kernels.cpu_theoretical_peak(fp) if device == "cpu" else None,
            "points": [_row(r) for r in rows]}
    emit(args, data, _render)
    return 0


def vars_json(args) -> dict:
    return {k: v for k, v in vars(args).items() if not k.startswith("_") and isinstance(v, (str, int, float, bool, type(None)))}


def _row(r) -> dict:
    v, p = r["value"] or {}, r["point"]
    summ = v.get("summary", {})
    return {"name": p.name, "status": r["status"], "median_s": summ.get("median"),
            "rel_iqr": summ.get("rel_iqr"), "noisy": summ.get("noisy"),
            "tflops": v["flop_rate"] / 1e12 if v.get("flop_rate") else None,
            "gbps": v["bandwidth_Bps"] / 1e9 if v.get("bandwidth_Bps") and p.kind != "gemm" else None,
            "error": (r.get("error") or "").splitlines()[0] if r.get("error") else None}


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
    if v is None:
        return "N/A"
    if unit == "%":
        return f"{100 * v:.1f}%"
    if unit == "s":
        return f"{v * 1e3:.3g} ms"
    return f"{v:.4g}"
