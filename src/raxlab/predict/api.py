"""Scalar entry points: one explicit candidate in, one `Projection` out.

These wrap the vectorised cores (`training.train_core`, `generic.generic_core`) with layout
checks (one-line RaxErrors) and turn the arrays into named terms. For many candidates use
`vectorized.evaluate_training` instead: same arithmetic, no per-candidate Python.
"""

from __future__ import annotations

import numpy as np

from raxlab.errors import RaxError
from raxlab.predict import errorband, priors
from raxlab.predict.hardware import Hardware, hw_consts
from raxlab.predict.layout import Layout, as_arrays, check_layout
from raxlab.predict.projection import GIB, Projection
from raxlab.predict.shape import TransformerShape
from raxlab.predict.training import train_core

DTYPE_BYTES = {"fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0}


def dtype_bytes(precision: str) -> float:
    if precision not in DTYPE_BYTES:
        raise RaxError(f"unknown precision {precision!r}; known: {', '.join(DTYPE_BYTES)}", field="precision")
    return DTYPE_BYTES[precision]


def workspace_bytes() -> float:
    return priors.scalar("memory", "workspace_bytes").value


def usable_memory(hw: Hardware) -> float:
    return hw.mem_bytes * priors.scalar("memory", "usable_fraction").value


def predict_training(shape: TransformerShape, hw: Hardware, layout: Layout, precision: str = "bf16", *,
                     gpus: int | None = None, data_s_per_sample: float | None = None,
                     assumptions: list[str] | None = None) -> Projection:
    """Project one training step of a transformer on `hw` with `layout`.

    `data_s_per_sample`: measured data-loading time per sample on one GPU's loader (None:
    unknown, reported N/A); loading runs in background workers, so only what exceeds the
    step is exposed."""
    check_layout(layout, gpus=gpus, gpus_per_node=hw.gpus_per_node, heads=shape.heads, kv_heads=shape.kv,
                 layers=shape.layers)
    _check_fabric(hw, layout.gpus)
    hc = hw_consts(hw, precision)
    # fp8 recipes keep master weights and the weight copies used by TP/FSDP in 16 bit.
    w_bytes = max(dtype_bytes(precision), 2.0)
    out = train_core(shape, as_arrays(layout), hc, w_bytes=w_bytes, workspace=workspace_bytes())
    terms = {k: float(v) for k, v in out["terms"].items()}
    step = float(out["step_time_s"])
    terms["data_loading"] = _data_term(data_s_per_sample, layout, step)
    step += terms["data_loading"] or 0.0
    samples = layout.global_batch / step
    model_flops = layout.global_batch * shape.seq * shape.model_flops_per_token()
    tflops = model_flops / step / layout.gpus
    memory = {k: float(v) / GIB for k, v in out["memory"].items()}
    return Projection(
        kind="train", step_time_s=step, tokens_per_s=samples * shape.seq, samples_per_s=samples,
        tflops_per_gpu=tflops / 1e12, mfu=tflops / hw.peak(precision), memory_gib=memory,
        fits=memory["total"] * GIB <= usable_memory(hw), terms=terms,
        error_band=errorband.band("train"), assumptions=list(assumptions or []),
        context={"precision": precision, "layout": layout.to_dict(), "hardware": _hw_summary(hw),
                 "model": {"params": shape.params, "layers": shape.layers, "hidden": shape.hidden,
                           "seq": shape.seq, "model_flops_per_step": model_flops}})


def _data_term(s_per_sample, layout: Layout, compute_step: float):
    if s_per_sample is None:
        return None
    per_gpu = layout.global_batch / layout.dp * s_per_sample
    return max(per_gpu - compute_step, 0.0)


def _check_fabric(hw: Hardware, gpus: int) -> None:
    if gpus > hw.gpus_per_node and hw.node_inter_bw <= 0:
        raise RaxError(f"{gpus} GPUs span several {hw.gpus_per_node}-GPU nodes but no fabric is given",
                       field="fabric")


def _hw_summary(hw: Hardware) -> dict:
    return {"name": hw.name, "gpus_per_node": hw.gpus_per_node, "fabric": hw.fabric or None,
            "rails_per_node": hw.rails_per_node, "rail_gbit_s": hw.rail_bw * 8 / 1e9 if hw.rail_bw else None,
            "efficiency_source": hw.eff.source}


def as_float(x) -> float:
    return float(np.asarray(x))
