"""Orchestration of `rax bench kernels` (the CLI module only parses)."""

from __future__ import annotations

from raxlab.measure import kernels
from raxlab.measure.compute_cli import parse_list
from raxlab.measure.device import PRECISIONS, resolve_device
from raxlab.measure.isolate import require_positive_timeout
from raxlab.measure.session import Session
from raxlab.measure.timing import Policy


def run_kernels(opts) -> dict:
    """Measure the kernel ceilings; `opts` is a KernelOptions or the CLI namespace."""
    device = resolve_device(opts.device)
    precs = parse_list(opts.precisions, "--precision", PRECISIONS)
    timeout = require_positive_timeout(opts.point_timeout)
    policy = Policy(min_reps=5, max_reps=100, max_seconds=require_positive_timeout(opts.max_seconds, "--point-seconds"))
    params = {"device": device, "precisions": precs, "max_seconds": opts.max_seconds, "point_timeout": timeout}
    with Session("kernels", store=opts.store, params=params, total=len(kernels.default_points(device, precs))) as s:
        rows = kernels.sweep(s, device, precs, policy, timeout)
        ceil = kernels.ceilings(rows)
        s.store.put_artifact(s.run_id, "ceilings", ceil)
    fp = s.store.get_run(s.run_id)["fingerprints"]["host"]
    return {"run_id": s.run_id, "device": device, "ceilings": ceil,
            "cpu_theoretical": kernels.cpu_theoretical_peak(fp) if device == "cpu" else None,
            "points": [_row(r) for r in rows]}


def _row(r) -> dict:
    v, p = r["value"] or {}, r["point"]
    summ = v.get("summary", {})
    return {"name": p.name, "status": r["status"], "median_s": summ.get("median"),
            "rel_iqr": summ.get("rel_iqr"), "noisy": summ.get("noisy"),
            "tflops": v["flop_rate"] / 1e12 if v.get("flop_rate") else None,
            "gbps": v["bandwidth_Bps"] / 1e9 if v.get("bandwidth_Bps") and p.kind != "gemm" else None,
            "error": (r.get("error") or "").splitlines()[0] if r.get("error") else None}
