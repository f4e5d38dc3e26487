"""The customer's real training/inference step, per precision and batch size.

A point = (precision, batch, mode). It runs in an isolated child: build the model,
make a real batch from the workload's data sample, then time full steps with the
shared core (forward, backward, optimizer step for `train`; forward under
`inference_mode` for `infer`). Precisions:
- fp32: IEEE fp32 matmuls (TF32 off); tf32: TF32 tensor cores (CUDA Ampere+);
- bf16 / fp16: `torch.autocast` with fp32 master weights; fp16 on CUDA uses a
  GradScaler (PyTorch AMP docs); CPU autocast shares the bf16 op list for fp16;
- fp8: needs NVIDIA Transformer Engine modules in the model; otherwise recorded as
  unsupported (the fp8 GEMM ceiling is measured by `rax bench kernels`).
Derived per point: samples/s, tokens/s, achieved FLOP/s from the card's train
FLOPs, peak memory (CUDA allocator peak; CPU RSS growth), and the loss of the first
step, checked for finiteness and against fp32 on the same init and batch.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass

from raxlab.measure.device import check_precision, tf32_mode
from raxlab.measure.isolate import Unsupported
from raxlab.measure.timing import Policy, Spec, measure

DIVERGENCE_REL = 0.10  # first-step loss more than 10 % away from fp32's: numerics broke


@dataclass
class ComputePoint:
    workload: str
    trust_code: bool
    precision: str
    batch: int
    mode: str  # train | infer
    device: str
    proxy: bool = False  # measure the spec's runnable proxy (the real model is meta-only)

    @property
    def name(self) -> str:
        return f"{self.mode}/{self.precision}/b{self.batch}"


def _autocast(precision: str, device: str):
    import torch

    if precision in ("bf16", "fp16"):
        dt = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(device_type=device.split(":")[0], dtype=dt)
    return contextlib.nullcontext()


def _fp8_check(model) -> None:
    try:
        import transformer_engine.pytorch as te  # noqa: F401
    except ImportError:
        raise Unsupported("an fp8 training step needs NVIDIA Transformer Engine (pip install transformer-engine)"
                          " and TE layers in the model; `rax bench kernels` measures the fp8 GEMM ceiling") from None
    if not any(type(m).__module__.startswith("transformer_engine") for m in model.modules()):
        raise Unsupported("the model has no Transformer Engine layers, so fp8 autocast would not change any GEMM")


def _train_state(p: ComputePoint, wl):
    import torch

    torch.manual_seed(0)
    model = wl.build_model(device=p.device)
    if p.precision == "fp8":
        _fp8_check(model)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(p.device.split(":")[0], enabled=p.precision == "fp16" and p.device != "cpu")
    return {"model": model, "opt": opt, "scaler": scaler, "batch": wl.make_batch(p.batch, device=p.device, seed=0),
            "losses": []}


def _train_step(p: ComputePoint, wl, s) -> None:
    s["opt"].zero_grad(set_to_none=True)
    with _autocast(p.precision, p.device):
        loss = wl.loss(s["model"], s["batch"])
    s["scaler"].scale(loss).backward()
    s["scaler"].step(s["opt"])
    s["scaler"].update()
    # Kept as a tensor: float() would synchronise inside the timed region (on a GPU the event
    # timer already waits for the step; CPU ops are synchronous). Read after timing.
    s["losses"].append(loss.detach())


def _infer_step(p: ComputePoint, wl, s) -> None:
    import torch

    with torch.inference_mode(), _autocast(p.precision, p.device):
        wl.forward(s["model"], s["batch"])  # the timer waits for the GPU (timing.make_timer)


def _memory_probe(device: str):
    """(reset, read) pair: CUDA allocator peak, or growth of this process's RSS."""
    import psutil
    import torch

    if device.startswith("cuda"):
        return (lambda: torch.cuda.reset_peak_memory_stats(device),
                lambda: int(torch.cuda.max_memory_allocated(device)))
    proc, base = psutil.Process(), [0]

    def reset():
        base[0] = proc.memory_info().rss

    return reset, lambda: int(proc.memory_info().rss - base[0])


def run_compute_point(p: ComputePoint, policy: Policy) -> dict:
    """Child-process entry: time one (precision, batch, mode) point of the real step."""
    import torch

    from raxlab.workload import load_workload

    check_precision(p.precision, p.device)
    wl = load_workload(p.workload, trust_code=p.trust_code, proxy=p.proxy)
    reset_mem, read_mem = _memory_probe(p.device)
    reset_mem()
    with tf32_mode(p.precision):
        state = _train_state(p, wl) if p.mode == "train" else _infer_state(p, wl)
        step = _train_step if p.mode == "train" else _infer_step
        res = measure(Spec(p.name, lambda s: step(p, wl, s), lambda: state, device=p.device, calibrate=False), policy)
    out = res.to_dict()
    out.update(point=asdict(p), samples_s=res.samples_s, peak_mem_bytes=read_mem(),
               peak_mem_basis="cuda max_memory_allocated" if p.device.startswith("cuda") else "cpu RSS growth",
               threads=torch.get_num_threads())
    out.update(_loss_fields([float(x) for x in state.get("losses", [])], res))
    return out


def _infer_state(p: ComputePoint, wl):
    import torch

    torch.manual_seed(0)
    model = wl.build_model(device=p.device)
    if p.precision == "fp8":
        _fp8_check(model)
    model.eval()
    return {"model": model, "batch": wl.make_batch(p.batch, device=p.device, seed=0)}


def _loss_fields(losses: list[float], res) -> dict:
    if not losses:
        return {"loss_first": None, "loss_last": None, "loss_finite": None}
    return {"loss_first": losses[0], "loss_last": losses[-1],
            "loss_finite": all(math.isfinite(x) for x in losses), "n_steps": len(losses)}


def derive(result: dict, card: dict, tokens_per_sample: int | None, peaks: dict) -> dict:
    """Throughput, achieved FLOP/s and MFU of one ok point (pure arithmetic).

    MFU counts model FLOPs only (the card's fwd+bwd for train, fwd for infer; PaLM
    App. B) against (a) the GEMM peak measured here for that precision and (b) the
    catalogue dense peak when the device is known."""
    p, med = result["point"], result["summary"]["median"]
    per_sample = card["train_flops_per_sample"] if p["mode"] == "train" else card["fwd_flops_per_sample"]
    flops = per_sample * p["batch"] / med
    out = {"samples_per_s": p["batch"] / med, "achieved_flops": flops,
           "tokens_per_s": p["batch"] * tokens_per_sample / med if tokens_per_sample else None,
           "card_activation_bytes": card["activation_bytes_per_sample"] * p["batch"] if p["mode"] == "train" else None}
    prec = "fp32" if p["precision"] == "tf32" and "tf32" not in peaks.get("measured", {}) else p["precision"]
    meas, cat = peaks.get("measured", {}).get(prec), peaks.get("catalog", {}).get(p["precision"])
    # A step faster than the probe means the probe's kernel is not this precision's fastest
    # path here (CPU bf16 without native support: torch.mm vs oneDNN under autocast), so
    # it is no ceiling and a ratio over 100 % would mislead: N/A, with the reason.
    out["mfu_vs_measured_gemm"] = flops / meas if meas and flops <= meas else None
    if meas and flops > meas:
        out["mfu_note"] = (f"step at {flops / meas:.1f}x the {prec} GEMM probe ({meas / 1e9:.3g} GFLOP/s): "
                           "the probe is no ceiling for this precision here, MFU vs GEMM N/A")
    out["mfu_vs_catalog_peak"] = flops / cat if cat else None
    return out


def loss_check(result: dict, fp32_loss: float | None) -> tuple[str, str | None]:
    """'ok' or 'diverged' with the reason: non-finite loss, or far from fp32's first loss."""
    if result.get("loss_finite") is False:
        return "diverged", f"non-finite loss (first {result['loss_first']}, last {result['loss_last']})"
    first = result.get("loss_first")
    if first is not None and fp32_loss:
        rel = abs(first - fp32_loss) / abs(fp32_loss)
        if rel > DIVERGENCE_REL:
            return "diverged", f"first-step loss {first:.4g} is {rel:.0%} away from fp32's {fp32_loss:.4g}"
    return "ok", None


@dataclass
class SweepConfig:
    workload: str
    trust_code: bool
    device: str
    precisions: list[str]
    batches: list[int]
    modes: list[str]
    policy: Policy
    point_timeout_s: float
    budget_s: float  # the whole sweep; points past it are recorded as skipped
    proxy: bool = False
    recheck_s: float | None = None  # re-measuring inconsistent points (default: a quarter of budget_s)


def _order(precisions: list[str]) -> list[str]:
    """fp32 first: every other precision's loss is checked against it."""
    return sorted(precisions, key=lambda x: x != "fp32")


def sweep(session, cfg: SweepConfig, card: dict, tokens_per_sample: int | None, peaks: dict) -> list[dict]:
    """Every (mode, precision, batch) point; OOM/too-slow/unsupported never abort it."""
    import time

    from raxlab.measure.isolate import Outcome
    from raxlab.measure.session import Job

    rows, start, fp32_loss = [], time.monotonic(), {}
    post = _post(card, tokens_per_sample, peaks, fp32_loss)
    for mode in cfg.modes:
        stop: dict[str, str] = {}  # precision -> why its larger batches are not run
        # batch-major: a spent budget cuts the largest batches of every precision, not whole precisions
        for b in sorted(cfg.batches):
            for prec in _order(cfg.precisions):
                p = ComputePoint(cfg.workload, cfg.trust_code, prec, b, mode, cfg.device, cfg.proxy)
                job = Job("compute", p.name, run_compute_point, (p, cfg.policy), params=asdict(p),
                          timeout_s=cfg.point_timeout_s)
                left = cfg.budget_s - (time.monotonic() - start)
                if prec in stop or left <= 0:
                    out = Outcome("skipped", None, stop.get(prec) or f"sweep budget of {cfg.budget_s:g} s spent")
                    session.record(job, out)
                else:
                    job.timeout_s = min(cfg.point_timeout_s, max(left, 5.0) + 30.0)
                    out = session.run(job, post=post)
                    why = _stop_after(out, prec, b)
                    if why:
                        stop[prec] = why
                rows.append(_row(p, job, out))
    recheck(session, rows, post, cfg.budget_s / 4 if cfg.recheck_s is None else cfg.recheck_s)
    return rows


def _row(p: ComputePoint, job, out, remeasure_of: int | None = None) -> dict:
    return {"point": p, "status": out.status, "value": out.value, "error": out.error, "job": job, "out": out,
            "remeasure_of": remeasure_of}


# -- points that contradict their series (measure/consistency.py) -------------------------------
RECHECK_TRIES = 2  # re-measures of one point: a second run tells a passing disturbance from a real effect


def recheck(session, rows: list[dict], post, budget_s: float) -> None:
    """Re-measure, within `budget_s` seconds, the ok points that contradict the other batch sizes
    of their (mode, precision) series (measure/consistency.py), and mark `inconsistent` what stays
    wrong. A first run that its re-measure does not reproduce was disturbed and is marked; a point
    whose value reproduces is trusted, and the neighbours it contradicts are re-measured instead.
    Every measurement of a point that still contradicts its series at the end (or that the budget
    left unchecked) is marked. Fits skip non-ok points."""
    import time

    deadline = time.monotonic() + max(0.0, budget_s)
    for key in sorted({(r["point"].mode, r["point"].precision) for r in rows}):
        tries: dict[int, int] = {}
        while time.monotonic() < deadline:
            todo = _suspects(rows, key, tries)
            if not todo:
                break
            for batch in todo:
                if time.monotonic() >= deadline:
                    break
                tries[batch] = tries.get(batch, 0) + 1
                _remeasure(session, rows, _current(rows, key)[batch], tries[batch], post, deadline)
        current = _current(rows, key)
        for f in _findings(current):
            for row in _all_ok(rows, current[f.batch]):
                _mark(session, row, f"{f.reason}; {_history(rows, row)}")


def _suspects(rows: list[dict], key: tuple, tries: dict[int, int]) -> list[int]:
    """Batch sizes to re-measure next: each finding, or, once its value has reproduced, the
    neighbours it contradicts; none re-measured more than RECHECK_TRIES times."""
    current = _current(rows, key)
    out: list[int] = []
    for f in _findings(current):
        reproduced = len(_all_ok(rows, current[f.batch])) > 1
        for b in (f.against if reproduced else (f.batch,)):
            if tries.get(b, 0) < RECHECK_TRIES and b not in out:
                out.append(b)
    return out


def _step(row: dict):
    from raxlab.measure.consistency import Step

    summ = row["value"]["summary"]
    return Step(row["point"].batch, summ["median"], summ.get("rel_iqr") or 0.0)


def _all_ok(rows: list[dict], row: dict) -> list[dict]:
    return [r for r in rows if r["point"].name == row["point"].name and r["status"] == "ok"]


def _current(rows: list[dict], key: tuple) -> dict[int, dict]:
    """The latest ok measurement of each batch size of one (mode, precision) series."""
    out = {}
    for r in rows:
        if (r["point"].mode, r["point"].precision) == key and r["status"] == "ok":
            out[r["point"].batch] = r
    return out


def _findings(current: dict[int, dict]) -> list:
    from raxlab.measure.consistency import find_inconsistent

    return find_inconsistent([_step(r) for r in current.values()])


def _remeasure(session, rows: list[dict], row: dict, attempt: int, post, deadline: float) -> None:
    """One more run of `row`'s point; the earlier run is marked when the two disagree (it was disturbed)."""
    import time
    from dataclasses import replace

    from raxlab.measure.consistency import agree

    old = row["job"]
    job = replace(old, params={**old.params, "remeasure_of": row["out"].point_id, "attempt": attempt},
                  timeout_s=min(old.timeout_s, max(5.0, deadline - time.monotonic()) + 30.0))
    out = session.run(job, post=post)
    new = _row(row["point"], job, out, remeasure_of=row["out"].point_id)
    rows.append(new)
    if out.status == "ok" and not agree(_step(row), _step(new)):
        _mark(session, row, f"disturbed: re-measured at {_step(new).median_s * 1e3:.4g} ms "
                            f"(point {out.point_id}) against {_step(row).median_s * 1e3:.4g} ms here")


def _mark(session, row: dict, why: str) -> None:
    session.mark(row["out"], "inconsistent", f"inconsistent with the other batch sizes: {why}")
    row["status"], row["error"] = row["out"].status, row["out"].error


def _history(rows: list[dict], row: dict) -> str:
    """'measured 3 times: 600, 590, 610 ms' for the point of `row` (every run of its name)."""
    name = row["point"].name
    times = [r["value"]["summary"]["median"] * 1e3 for r in rows
             if r["point"].name == name and r["value"] and r["value"].get("summary")]
    if len(times) == 1:
        return "not re-measured (recheck budget spent)"
    return f"measured {len(times)} times: {', '.join(f'{t:.4g}' for t in times)} ms"


def _post(card, tokens_per_sample, peaks, fp32_loss: dict):
    def post(out):
        if out.status != "ok":
            return out
        v = out.value
        p = v["point"]
        v.update(derive(v, card, tokens_per_sample, peaks))
        if p["precision"] == "fp32" and p["mode"] == "train":
            fp32_loss[p["batch"]] = v["loss_first"]
        status, why = loss_check(v, fp32_loss.get(p["batch"]) if p["mode"] == "train" else None)
        out.status, out.error = status, why
        return out
    return post


def _stop_after(out, prec: str, batch: int) -> str | None:
    """Why larger batches of this precision are not run (they would fail the same way)."""
    if out.status == "unsupported":
        return out.error
    if out.status in ("oom", "killed"):
        return f"batch {batch} already ran out of memory ({out.status})"
    if out.status == "timeout":
        return f"batch {batch} already exceeded the point time limit"
    return None
