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

from raxlab.measure.device import check_precision, synchronize, tf32_mode
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
    s["losses"].append(float(loss.detach()))  # .item() syncs, which the CPU timer needs anyway


def _infer_step(p: ComputePoint, wl, s) -> None:
    import torch

    with torch.inference_mode(), _autocast(p.precision, p.device):
        wl.forward(s["model"], s["batch"])
    synchronize(p.device)


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
    out.update(_loss_fields(state.get("losses", []), res))
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


def _order(precisions: list[str]) -> list[str]:
    """fp32 first: every other precision's loss is checked against it."""
    return sorted(precisions, key=lambda x: x != "fp32")


def sweep(session, cfg: SweepConfig, card: dict, tokens_per_sample: int | None, peaks: dict) -> list[dict]:
    """Every (mode, precision, batch) point; OOM/too-slow/unsupported never abort it."""
    import time

    from raxlab.measure.isolate import Outcome
    from raxlab.measure.session import Job

    rows, start, fp32_loss = [], time.monotonic(), {}
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
                    out = session.run(job, post=_post(card, tokens_per_sample, peaks, fp32_loss))
                    why = _stop_after(out, prec, b)
                    if why:
                        stop[prec] = why
                rows.append({"point": p, "status": out.status, "value": out.value, "error": out.error})
    return rows


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
