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
                     assumptions: list[str] | None = None, moe_imbalance: float | None = None) -> Projection:
    """Project one training step of a transformer on `hw` with `layout`.

    `data_s_per_sample`: measured data-loading time per sample on one GPU's loader (None:
    unknown, reported N/A); loading runs in background workers, so only what exceeds the
    step is exposed. `moe_imbalance`: routing load factor of a MoE model (None: moe.py's prior)."""
    check_layout(layout, gpus=gpus, gpus_per_node=hw.gpus_per_node, heads=shape.heads, kv_heads=shape.kv,
                 layers=shape.layers, experts=shape.moe.experts if shape.moe else None, seq=shape.seq)
    _check_fabric(hw, layout.gpus)
    hc = hw_consts(hw, precision)
    # fp8 recipes keep master weights and the weight copies used by TP/FSDP in 16 bit.
    w_bytes = max(dtype_bytes(precision), 2.0)
    out = train_core(shape, as_arrays(layout), hc, w_bytes=w_bytes, workspace=workspace_bytes(),
                     imbalance=moe_imbalance)
    notes = list(assumptions or []) + _layout_warnings(layout, hw) + _moe_cp_notes(shape, layout, moe_imbalance)
    terms = {k: float(v) for k, v in out["terms"].items()}
    step = float(out["step_time_s"])
    terms["data_loading"] = _data_term(data_s_per_sample, layout, step)
    step += terms["data_loading"] or 0.0
    samples = layout.global_batch / step
    model_flops = layout.global_batch * shape.seq * shape.model_flops_per_token()
    if layout.lora_rank:  # frozen weights: forward and data gradient only, 2/3 of 3 x forward
        model_flops *= 2.0 / 3.0
        notes.append(f"LoRA rank {layout.lora_rank}: base weights frozen (no weight gradients, no optimizer state, "
                     "adapter gradients only across data parallel); model FLOPs = forward + data gradient")
    tflops = model_flops / step / layout.gpus
    memory = {k: float(v) / GIB for k, v in out["memory"].items()}
    return Projection(
        kind="train", step_time_s=step, tokens_per_s=samples * shape.seq, samples_per_s=samples,
        tflops_per_gpu=tflops / 1e12, mfu=tflops / hw.peak(precision), memory_gib=memory,
        fits=memory["total"] * GIB <= usable_memory(hw), terms=terms,
        error_band=band_for(hw, layout, precision, shape.seq), assumptions=notes + _band_note(hw),
        context={"precision": precision, "layout": layout.to_dict(), "hardware": _hw_summary(hw),
                 "model": {"params": shape.params, "layers": shape.layers, "hidden": shape.hidden,
                           "seq": shape.seq, "model_flops_per_step": model_flops, **_moe_context(shape)}})


def _moe_context(shape: TransformerShape) -> dict:
    if shape.moe is None:
        return {}
    return {"active_params": shape.active_params, "experts": shape.moe.experts, "top_k": shape.moe.top_k,
            "moe_layers": shape.moe.moe_layers}


def _moe_cp_notes(shape: TransformerShape, layout: Layout, imbalance: float | None) -> list[str]:
    """What the MoE and CP terms assume (predict/moe.py, predict/context.py)."""
    from raxlab.predict import moe

    out = []
    if shape.moe is not None:
        iota = moe.check_imbalance(imbalance)
        src = "given" if imbalance is not None else "prior: Switch Transformer capacity factor, data/moe.yaml"
        out.append(f"MoE: routing imbalance {iota:g} per expert ({src}), shrunk for the E/ep experts of the busiest EP rank, scales the expert GEMMs and "
                   f"the all-to-all; EP {layout.ep_dispatch} dispatch {'overlapped with compute' if layout.moe_overlap else 'in line (not overlapped)'}; "
                   "MoE blocks spread evenly over pipeline stages")
    if layout.cp > 1:
        out.append(f"CP {layout.cp}: {layout.cp_comm.replace('_', '-')} exchange of K and V per layer; sequences split in "
                   f"2·cp chunks for causal load balance; activations and tokens per GPU / {layout.cp}")
    return out


def generation_of(hw: Hardware) -> str | None:
    """The GPU generation (kernel family of data/kernels.yaml) of `hw`, None when unknown."""
    from raxlab.predict.kernels import family_of

    found = family_of(hw.family)
    return found[0] if found else None


def band_for(hw: Hardware, layout: Layout, precision: str, seq: int):
    """The error band of the validation slice this projection belongs to."""
    fam = errorband.layout_family(layout.zero, layout.pp, layout.tp)
    return errorband.band("train", generation_of(hw), errorband.slice_keys(fam, precision, seq, layout.cp))


def _band_note(hw: Hardware) -> list[str]:
    gen = generation_of(hw)
    if gen and errorband.band("train", gen).validated:
        return []
    return [f"{hw.family}: not validated on this generation ({gen or 'unknown family'}): fewer than "
            f"{errorband.MIN_ROWS} published runs; the widest error band applies"]


def _layout_warnings(layout: Layout, hw: Hardware) -> list[str]:
    """Regimes the validation benchmark (benchmarks/bench_predict_validation) could not check."""
    out = []
    if layout.tp <= hw.gpus_per_node and hw.gpus_per_node % layout.tp:
        out.append(f"tensor parallel {layout.tp} does not divide the {hw.gpus_per_node} GPUs of a node: some TP "
                   "groups straddle two nodes (projected as if inside one)")
    if layout.tp > hw.gpus_per_node:
        out.append(f"tensor parallel {layout.tp} spans more than one {hw.gpus_per_node}-GPU node: its activation "
                   "all-reduces cross the scale-out fabric every layer (projected, not validated; frameworks "
                   "keep TP inside the NVLink domain)")
    return out + _zero3_warnings(layout, hw)


def _zero3_warnings(layout: Layout, hw: Hardware) -> list[str]:
    if layout.zero == 3 and layout.zero3_gather == "prefetch" and layout.dp > 16 * hw.gpus_per_node:
        return [f"ZeRO-3/FSDP with prefetch over {layout.dp} GPUs: validated on FSDP runs of up to 128 GPUs only; "
                "an implementation that gathers each parameter synchronously (DeepSpeed ZeRO-3 of 2021) runs "
                "2-4x slower at this scale: project it with zero3_gather='blocking'"]
    return []


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


def predict_card_training(card, hw: Hardware, layout: Layout, precision: str = "bf16", *,
                          gpus: int | None = None, seq: int | None = None,
                          data_s_per_sample: float | None = None,
                          assumptions: list[str] | None = None, moe_imbalance: float | None = None) -> Projection:
    """Training projection from a workload card: the transformer model when the card has a
    layer shape, else the generic per-op-class model (data parallel / ZeRO / FSDP only)."""
    from raxlab.predict.shape import shape_from_card

    shape = shape_from_card(card, seq=seq)
    notes = list(assumptions or [])
    if shape is not None:
        if card.layer_shape.get("gated_mlp") is None:
            notes.append(f"MLP read as {'gated (3 matrices)' if shape.gated_mlp else '2 matrices'} "
                         "from the card's parameter count")
        return predict_training(shape, hw, layout, precision, gpus=gpus, data_s_per_sample=data_s_per_sample,
                                assumptions=notes, moe_imbalance=moe_imbalance)
    return _predict_generic(card, hw, layout, precision, gpus, data_s_per_sample, notes)


def _predict_generic(card, hw, layout, precision, gpus, data_s_per_sample, notes) -> Projection:
    from raxlab.predict.generic import CardNums, generic_core

    check_layout(layout, gpus=gpus, gpus_per_node=hw.gpus_per_node, transformer=False)
    _check_fabric(hw, layout.gpus)
    traced = 4.0 if card.trace.get("dtype", "float32") == "float32" else 2.0
    cn = CardNums.from_card(card, act_scale=max(dtype_bytes(precision), 2.0) / traced)
    hc = hw_consts(hw, precision)
    out = generic_core(cn, as_arrays(layout), hc, workspace=workspace_bytes(), w_bytes=max(dtype_bytes(precision), 2.0))
    terms = {k: float(v) for k, v in out["terms"].items()}
    step = float(out["step_time_s"])
    terms["data_loading"] = _data_term(data_s_per_sample, layout, step)
    step += terms["data_loading"] or 0.0
    samples = layout.global_batch / step
    model_flops = layout.global_batch * float(card.train_flops_per_sample) + float(card.train_flops_fixed)
    memory = {k: float(v) / GIB for k, v in out["memory"].items()}
    notes = notes + ["not a transformer: per-op-class roofline from the card; convolutions at the matmul "
                     "efficiency; element-wise bytes are the card's fusion-free upper bound"]
    tokens = samples * card.tokens_per_sample if card.tokens_per_sample else None
    return Projection(
        kind="train", step_time_s=step, tokens_per_s=tokens, samples_per_s=samples,
        tflops_per_gpu=model_flops / step / layout.gpus / 1e12, mfu=model_flops / step / layout.gpus / hw.peak(precision),
        memory_gib=memory, fits=memory["total"] * GIB <= usable_memory(hw), terms=terms,
        error_band=errorband.band("train_generic"), assumptions=notes,
        context={"precision": precision, "layout": layout.to_dict(), "hardware": _hw_summary(hw),
                 "model": {"params": card.params, "kind": card.kind, "model_flops_per_step": model_flops}})


def predict_inference(shape: TransformerShape, hw: Hardware, *, tp: int = 1, batches=(1, 8, 32),
                      prompt: int = 1024, gen: int = 256, precision: str = "bf16",
                      kv_dtype_bytes: float | None = None) -> dict:
    """Serving projection per batch size: TTFT, time per output token, throughput, KV cache,
    memory and fit, for one replica of `tp` GPUs. No published validation yet: error band N/A."""
    from raxlab.predict.inference import serve, serving_memory

    check_layout(Layout(tp=tp, dp=1), gpus_per_node=hw.gpus_per_node, heads=shape.heads, kv_heads=shape.kv)
    hc = hw_consts(hw, precision)
    wb = dtype_bytes(precision)
    kvb = kv_dtype_bytes or max(wb, 2.0)
    rows = []
    for b in batches:
        perf = serve(shape, hc, tp, b, prompt, gen, wb, kvb)
        memory = serving_memory(shape, tp, b, prompt + gen, wb, kvb, workspace_bytes())
        rows.append({"batch": int(b), **{k: float(v) for k, v in perf.items()},
                     "kv_cache_gib": float(memory["kv_cache"]) / GIB, "memory_per_gpu_gib": float(memory["total"]) / GIB,
                     "fits": bool(memory["total"] <= usable_memory(hw))})
    return {"kind": "infer", "tp": tp, "prompt": prompt, "gen": gen, "precision": precision,
            "kv_cache_bytes_per_token": shape.kv_cache_bytes_per_token(kvb), "per_batch": rows,
            "error_band": None, "hardware": _hw_summary(hw)}
