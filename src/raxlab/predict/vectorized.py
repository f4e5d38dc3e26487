"""Many candidates at once, for the planner: same arithmetic as `api.py`, numpy arrays in.

    from raxlab.predict.vectorized import evaluate_training, candidate_grid
    hc = hw_consts(hw, "bf16")                        # or stack_hardware([...]) + take(...)
    la = candidate_grid(gpus=1024, gpus_per_node=8, global_batch=1024, ...)  # LayoutArrays
    res = evaluate_training(shape, hc, la, gpus=1024, mem_bytes=hw.mem_bytes)
    res["step_time_s"], res["fits"], res["problem"]   # arrays, one entry per candidate

`problem` is a code into `layout.PROBLEMS` (0 = possible); impossible candidates still get
numbers, so mask with `res["ok"]`. Hardware numbers may be arrays aligned with the layouts
(stack them with `hardware.stack_hardware` and index with `hardware.take`).
"""

from __future__ import annotations

import itertools

import numpy as np

from raxlab.predict import priors
from raxlab.predict.generic import CardNums, generic_core
from raxlab.predict.layout import LayoutArrays, layout_problems, make_arrays
from raxlab.predict.training import train_core


def _usable(mem_bytes):
    return np.asarray(mem_bytes) * priors.scalar("memory", "usable_fraction").value


def evaluate_training(model, hc, la: LayoutArrays, *, gpus, mem_bytes, w_bytes: float = 2.0) -> dict:
    """Step time, throughput, MFU, memory and fit for every candidate in `la`.

    `model`: a TransformerShape (full model) or a CardNums (data parallel only)."""
    ws = priors.scalar("memory", "workspace_bytes").value
    if isinstance(model, CardNums):
        out = generic_core(model, la, hc, workspace=ws, w_bytes=w_bytes)
        problem = layout_problems(la, gpus, hc.g, transformer=False)
        flops_per_sample = sum(model.flops.values())
        seq = model.tokens_per_sample or 0
    else:
        out = train_core(model, la, hc, w_bytes=w_bytes, workspace=ws)
        problem = layout_problems(la, gpus, hc.g, heads=model.heads, layers=model.layers,
                                  experts=model.moe.experts if model.moe else None, seq=model.seq)
        flops_per_sample = model.seq * model.model_flops_per_token()
        seq = model.seq
    step = out["step_time_s"]
    samples = la.gb / step
    total = out["memory"]["total"]
    return {"step_time_s": step, "samples_per_s": samples, "tokens_per_s": samples * seq,
            "mfu": samples * flops_per_sample / (la.tp * la.pp * la.cp * la.dp) / hc.peak,
            "memory_bytes": total, "fits": total <= _usable(mem_bytes), "problem": problem,
            "ok": (problem == 0) & (total <= _usable(mem_bytes)), "terms": out["terms"]}


def _divisors(n: int, cap: int | None = None) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0 and (cap is None or d <= cap)]


def candidate_grid(*, gpus: int, gpus_per_node: int, global_batch: int, micro_batches=(1, 2, 4, 8),
                   recompute=(0, 1, 2), zero=(0, 1, 3), vpp=(1,), sp=(1,), attn=1, max_pp: int = 64,
                   transformer: bool = True) -> LayoutArrays:
    """All (tp, pp, dp, micro-batch, recompute, zero, vpp, sp) layouts for `gpus` GPUs; impossible
    ones are kept and flagged by `evaluate_training`'s `problem` code."""
    rows = []
    tps = _divisors(gpus, gpus_per_node) if transformer else [1]
    for tp in tps:
        for pp in (_divisors(gpus // tp, max_pp) if transformer else [1]):
            dp = gpus // (tp * pp)
            rows.extend((tp, pp, dp, *rest) for rest in itertools.product(micro_batches, recompute, zero, vpp, sp))
    a = np.array(rows, dtype=float).reshape(-1, 8)
    return make_arrays(tp=a[:, 0], pp=a[:, 1], dp=a[:, 2], mb=a[:, 3], gb=global_batch, recompute=a[:, 4],
                       zero=a[:, 5], vpp=a[:, 6], sp=a[:, 7], attn=attn)
