"""Orchestration of `rax bench io` (the CLI module only parses)."""

from __future__ import annotations

from raxlab.errors import RaxError
from raxlab.measure import io, isolate
from raxlab.measure.fingerprint import usable_cores
from raxlab.measure.session import Job, Session


def _step_rate(store, ref: str | None, workload: str, batch: int) -> tuple[float | None, str]:
    """Training samples/s of a measured step: the given run, else the latest for this workload."""
    if ref:
        runs = [store.get_run(ref)]
    else:
        runs = [store.get_run(r["id"]) for r in store.list_runs(limit=20, kind="compute") if r["workload"] == workload]
    for run in runs:
        ok = [p for p in run["points"] if p["kind"] == "compute" and p["status"] == "ok"
              and p["params"]["mode"] == "train"]
        if ok:
            best = max(ok, key=lambda p: p["result"]["samples_per_s"])
            return best["result"]["samples_per_s"], (f"run {run['id']}, {best['name']}: "
                                                    f"{best['result']['samples_per_s']:.4g} samples/s (measured)")
    return None, "none measured"


def run_io(args) -> dict:
    from raxlab.measure.compute_cli import runnable

    wl, proxy = runnable(args.workload, args.trust_code)
    batch = args.batch if args.batch is not None else (wl.spec.micro_batch or 1)
    if batch < 1:
        raise RaxError(f"must be >= 1, got {batch}", field="--micro-batch")
    cores = usable_cores()
    max_w = cores if args.max_workers is None else args.max_workers
    if max_w < 0:
        raise RaxError(f"must be >= 0, got {max_w}", field="--max-workers")
    isolate.require_positive_timeout(args.seconds, "--point-seconds")
    isolate.preload("raxlab.workload", "transformers")
    counts = io.worker_counts(max_w)
    with Session("io", store=args.store, workload=wl.name, spec=wl.spec.model_dump(mode="json"),
                 params={"batch": batch, "workers": counts, "seconds": args.seconds}, total=len(counts)) as s:
        rows = []
        for w in counts:
            p = io.IOPoint(args.workload, args.trust_code, w, batch, args.seconds, proxy)
            out = s.run(Job("io", p.name, io.run_io_point, (p,), params={"workers": w, "batch": batch},
                            timeout_s=args.seconds * 4 + 60))
            rows.append(_flat(w, out))
        best = max((r["samples_per_s"] for r in rows if r["samples_per_s"]), default=None)
        step_sps, basis = _step_rate(s.store, args.compare_run, wl.name, batch)
        verdict = io.starvation(best, step_sps)
        s.store.put_artifact(s.run_id, "io_summary", {"best_samples_per_s": best, "step_samples_per_s": step_sps,
                                                      "cores": cores, **verdict})
    return {"run_id": s.run_id, "workload": wl.name, "batch": batch, "points": rows,
            "best_samples_per_s": best, "step_basis": basis, "starvation": verdict}


def _flat(workers: int, out) -> dict:
    v = out.value or {}
    return {"workers": workers, "status": out.status, "samples_per_s": v.get("samples_per_s"),
            "mbytes_per_s": v.get("mbytes_per_s"), "startup_s": v.get("startup_s"),
            "batch_median_s": (v.get("batch_summary") or {}).get("median"),
            "note": out.error.splitlines()[0] if out.error else None}
