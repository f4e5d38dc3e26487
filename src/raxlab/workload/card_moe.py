"""The mixture-of-experts part of a workload card: how it is traced, what it summarises, and the
analytic card for models that cannot be traced.

`summary` (the card's `moe` key) reports, for one training sample of `seq` tokens:

  method                        traced on meta with balanced routing | traced on the CPU | analytic
  experts, top_k, moe_layers, dense_layers, shared_experts
  total_params                  the card's params (every expert; traced, or the config's count)
  active_params                 parameters one token uses: dense parts + top-k routed + shared
                                experts + embeddings (from the config's shape, as published counts are)
  params_per_expert             one routed expert (SwiGLU: 3·h·expert_ffn)
  routed_expert_params          all routed experts of all MoE blocks (what expert parallelism shards)
  router_flops_per_token        forward router GEMMs (2·h·E per MoE block)
  train_flops_per_token         the card's training FLOPs per token (top-k routing; forward + backward)
  tokens_dispatched_per_layer   token copies one sample sends to experts per MoE block (seq·k)
  a2a_bytes_per_token_layer     dispatch + combine all-to-all bytes per token per MoE block, forward,
                                16-bit activations: 2·k·h·2 (GShard; DESIGN.md "Second wave"); the
                                (EP−1)/EP of it bound for other GPUs is the projection's business
  a2a_bytes_per_token_step      the same for forward and backward over all MoE blocks (×2 ×moe_layers)
"""

from __future__ import annotations

import contextlib
from typing import Any

from raxlab.workload import moe

A2A_BYTES = 2.0  # 16-bit activations cross the all-to-all (Megatron-Core bf16 dispatch)


class Untraceable(Exception):
    """This MoE model cannot be traced; the card is derived from the config instead."""


def is_moe(workload) -> bool:
    ls = workload.layer_shape
    return bool(ls and ls.get("moe"))


def routing(workload):
    """Balanced routing for the traces of a MoE model (a no-op for dense ones)."""
    return moe.balanced_routing() if is_moe(workload) else contextlib.nullcontext()


def check_traceable(workload, model) -> None:
    """Raise Untraceable when the model's experts bypass transformers' experts interface: a trace
    would then count whatever its own forward does (llama4 runs every expert on every token)."""
    if is_moe(workload) and not moe.uses_experts_interface(type(model)):
        raise Untraceable(f"{type(model).__name__}'s experts do not dispatch through transformers' experts "
                          "interface, so a trace would not follow top-k routing")


def _shape(workload):
    from raxlab.shape import shape_from_layer_shape

    return shape_from_layer_shape(workload.layer_shape)


def summary(card, shape, method: str) -> dict[str, Any]:
    m, h, seq = shape.moe, shape.hidden, shape.seq
    per_layer = 2.0 * m.top_k * h * A2A_BYTES
    return {
        "method": method, "experts": m.experts, "top_k": m.top_k, "moe_layers": m.moe_layers,
        "dense_layers": shape.layers - m.moe_layers, "shared_experts": m.shared_experts,
        "total_params": int(card.params), "active_params": int(shape.active_params),
        "params_per_expert": int(m.expert_params(h)), "routed_expert_params": int(shape.expert_block_params),
        "router_flops_per_token": shape.router_flops_per_token(),
        "train_flops_per_token": card.train_flops_per_sample / seq,
        "tokens_dispatched_per_layer": seq * m.top_k,
        "a2a_bytes_per_token_layer": per_layer, "a2a_bytes_per_token_step": 2.0 * per_layer * m.moe_layers,
    }


def attach(card, workload, device: str) -> None:
    """Add the `moe` summary to a traced card of a MoE model and check its parameter count."""
    if not is_moe(workload):
        return
    shape = _shape(workload)
    method = "traced on meta with balanced routing" if device == "meta" else "traced on the CPU (random-init routing)"
    card.moe = summary(card, shape, method)
    gap = shape.params / card.params - 1
    if abs(gap) > 0.01:
        card.notes.append(f"the config's MoE shape counts {shape.params:,} parameters, {100 * gap:+.1f} % off the "
                          "traced model: active parameters and the projection read the config's shape")
    card.notes.append(f"MoE: {card.moe['moe_layers']} of {shape.layers} blocks route each token to {shape.moe.top_k} of "
                      f"{shape.moe.experts} experts; active_params from the config's shape")


# ------------------------------------------------------------------ analytic card

def _gemms(shape) -> list[tuple[float, float, float]]:
    """(in, out, uses per token) of the GEMMs of one mean block (active experts only)."""
    h, L = shape.hidden, shape.layers
    if shape.mla is not None:
        a = shape.mla
        q_in = [(h, a.q_lora_rank, 1), (a.q_lora_rank, shape.heads * a.qk_head_dim, 1)] if a.q_lora_rank \
            else [(h, shape.heads * a.qk_head_dim, 1)]
        attn = q_in + [(h, a.cache_dim, 1), (a.kv_lora_rank, shape.heads * (a.qk_nope_head_dim + a.v_head_dim), 1),
                       (shape.heads * a.v_head_dim, h, 1)]
    else:
        attn = [(h, shape.q_dim + 2 * shape.kv_dim, 1), (shape.q_dim, h, 1)]
    m, dense = shape.moe, (L - shape.n_moe) / L
    mlp = [(h, 2 * shape.ffn, dense), (shape.ffn, h, dense)]
    share = shape.n_moe / L
    moe_part = [(h, m.experts, share), (h, 2 * m.shared_ffn, share), (m.shared_ffn, h, share),
                (h, 2 * m.expert_ffn, share * m.top_k), (m.expert_ffn, h, share * m.top_k)]
    return [g for g in attn + mlp + moe_part if g[0] and g[1] and g[2]]


def _analytic_counts(shape, itemsize: int) -> dict[str, float]:
    """Per-sample forward FLOPs/bytes and activation bytes of one sample (see analytic_card)."""
    s, L, h, V = shape.seq, shape.layers, shape.hidden, shape.vocab
    gemms = _gemms(shape)
    return {
        "matmul_flops": s * (L * sum(2 * i * o * u for i, o, u in gemms) + 2 * V * h),
        "attention_flops": s * L * shape.layer_attention_flops_per_token(),
        "matmul_bytes": itemsize * s * (L * sum((i + o) * u for i, o, u in gemms) + h + V),
        "attention_bytes": itemsize * s * L * (4 * shape.heads * s + 2 * (shape.q_dim + shape.kv_dim)),
        "norm_bytes": itemsize * s * L * 2 * 2 * h,
        "activation_bytes": itemsize * s * (L * (sum(i * u for i, o, u in gemms) + 2 * shape.heads * s + 4 * h) + V),
    }


def analytic_fields(workload, itemsize: int, why: str, params: int | None, adam_bytes: int,
                    batches: list[int], standard_notes: list[str]) -> dict[str, Any]:
    """The fields of a card derived from the config's shape (no trace; `card.build_card` makes the
    WorkloadCard). FLOPs are exact for the GEMMs and the attention core (s×s square, as the traced
    cards count it), backward = 2× forward; bytes and activations are estimates: every GEMM's input
    and output once, the attention probabilities (read and written twice), two norms per block, and
    the saved GEMM inputs plus probabilities. `params`: counted on a meta build (None: the shape's)."""
    shape, item = _shape(workload), itemsize
    params = params or shape.params
    c = {k: int(v) for k, v in _analytic_counts(shape, item).items()}
    fwd_f = {"matmul": c["matmul_flops"], "attention": c["attention_flops"], "conv": 0, "other": 0}
    fwd_b = {"matmul": c["matmul_bytes"], "attention": c["attention_bytes"], "conv": 0, "norm": c["norm_bytes"], "other": 0}
    fixed_fwd = {"matmul": params * item, "attention": 0, "conv": 0, "norm": 0, "other": 0}
    return dict(
        name=workload.name, kind=workload.kind, task=workload.spec.task, model=workload.source.ref,
        meta_only=workload.meta_only, params=params, trainable_params=params, weight_bytes=params * item,
        gradient_bytes=params * item, optimizer_state_bytes=adam_bytes * params,
        fwd_flops_per_sample=sum(fwd_f.values()), train_flops_per_sample=3 * sum(fwd_f.values()),
        fwd_flops_fixed=0, train_flops_fixed=0, flops_by_class={k: 3 * v for k, v in fwd_f.items()},
        fwd_flops_by_class=fwd_f, bytes_by_class={k: 3 * v for k, v in fwd_b.items()}, fwd_bytes_by_class=fwd_b,
        bytes_fixed_by_class={k: 3 * v for k, v in fixed_fwd.items()}, fwd_bytes_fixed_by_class=fixed_fwd,
        optimizer_step_bytes=params * (4 * item + 2 * adam_bytes),
        activation_bytes_per_sample=c["activation_bytes"], activation_bytes_fixed=0,
        sample_bytes=workload.sample_bytes_per_sample, decode_s_per_sample=workload.decode_s_per_sample,
        tokens_per_sample=workload.tokens_per_sample, image_size=workload.image_size, layer_shape=workload.layer_shape,
        trace={"device": "analytic", "batches": list(batches), "layers": None},  # dtype: set by build_card
        notes=[f"derived analytically from the config, not traced: {why}",
               "analytic FLOPs: every GEMM 2·in·out per token over the active experts, attention core over the full "
               "s×s square, backward 2× forward; bytes and activations are estimates (see card_moe.analytic_card)",
               *[n for n in standard_notes if n.startswith(("optimizer_state_bytes", "decode_s"))]],
        moe=None,
    )


def attach_analytic(card, workload) -> None:
    card.moe = summary(card, _shape(workload), "analytic from the config")
