"""Mixture-of-experts and latent-attention facts of a Hugging Face config, and a routing stand-in
that lets the card trace MoE layers on meta tensors.

**Config reading.** Families name the same facts differently; `moe_block` reads them through the
alias table below (transformers' own config classes, the version this project installs):

| fact | mixtral, gpt_oss, phimoe, llama4 | qwen2_moe, qwen3_moe, olmoe | deepseek_v2/v3, glm4_moe |
|---|---|---|---|
| routed experts | num_local_experts | num_experts | n_routed_experts |
| experts per token | num_experts_per_tok | num_experts_per_tok | num_experts_per_tok |
| expert width | intermediate_size | moe_intermediate_size | moe_intermediate_size |
| shared experts | llama4: one of intermediate_size | qwen2_moe: shared_expert_intermediate_size | n_shared_experts × moe_intermediate_size |
| dense blocks | llama4: not in moe_layers | in mlp_only_layers or (i+1) % decoder_sparse_step | i < first_k_dense_replace |

(dense blocks of llama4 use intermediate_size_mlp.) The card checks the result against the
parameters of the model it builds and says when they disagree.

**Routing on meta tensors.** Meta tensors have shapes but no values, so routing, whose output
shape depends on which expert each token picked, cannot run there (transformers' eager experts
call `nonzero`; its grouped_mm kernel checks dtypes on meta). `balanced_experts_forward` is
registered as an experts implementation (transformers' `ExpertsInterface`) for card traces on
meta only: it gives the T·k token copies to the experts in equal shares (⌈T·k/E⌉ or ⌊T·k/E⌋
each) and runs each expert's GEMMs as one batched matmul, as a grouped GEMM does. The FLOPs of
dropless top-k routing do not depend on the split (2·T·k·(3·h·f) forward for SwiGLU experts),
each expert's weights are read once, and the router, the routing weights and their gradients
stay in the graph; what a perfect split does not show — the slowest expert under imbalance — is
the projection's load-imbalance factor (`predict/moe.py`).
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any

EXPERTS_IMPL = "rax_balanced"
_TRACE_EXPERTS: contextvars.ContextVar[str | None] = contextvars.ContextVar("rax_trace_experts", default=None)

_EXPERTS = ("num_local_experts", "num_experts", "n_routed_experts")
# Routers that score with a sigmoid where the config does not say (`scoring_func`): DeepSeek-V3
# report §2.1.2 and transformers' DeepseekV3TopkRouter; Llama4Router applies a sigmoid to the top-k.
_ROUTER = {"deepseek_v3": "sigmoid", "llama4_text": "sigmoid", "llama4": "sigmoid"}


def _get(config, *names):
    for n in names:
        v = getattr(config, n, None)
        if v is not None:
            return v
    return None


def _text(config):
    """The text config of multimodal wrappers (llama4), else the config itself."""
    return getattr(config, "text_config", None) or config


def moe_layer_flags(config) -> list[bool]:
    """Which blocks have routed experts, by each family's rule (see the module docstring)."""
    c = _text(config)
    n = int(getattr(c, "num_hidden_layers"))
    if isinstance(getattr(c, "moe_layers", None), (list, tuple)):
        return [i in set(c.moe_layers) for i in range(n)]
    dense_first = int(getattr(c, "first_k_dense_replace", None) or 0)
    only_mlp = set(getattr(c, "mlp_only_layers", None) or [])
    step = int(getattr(c, "decoder_sparse_step", None) or 1)
    return [i >= dense_first and i not in only_mlp and (i + 1) % step == 0 for i in range(n)]


def moe_block(config) -> dict[str, Any] | None:
    """The `layer_shape.moe` block of a MoE config, or None for a dense one."""
    c = _text(config)
    experts = _get(c, *_EXPERTS)
    top_k = _get(c, "num_experts_per_tok", "experts_per_token", "moe_topk")
    if not experts or not top_k or int(experts) <= 1:
        return None
    flags = moe_layer_flags(c)
    moe_ffn = getattr(c, "moe_intermediate_size", None)
    expert_ffn = int(moe_ffn or c.intermediate_size)
    shared_n, shared_ffn = _shared(c, expert_ffn)
    return {
        "experts": int(experts), "top_k": int(top_k), "expert_ffn": expert_ffn,
        "shared_experts": shared_n, "shared_ffn": shared_ffn,
        "moe_layers": sum(flags), "dense_layers": len(flags) - sum(flags),
        "first_dense_layers": next((i for i, f in enumerate(flags) if f), len(flags)),
        "dense_ffn": _dense_ffn(c), "gated": True,
        "router": str(getattr(c, "scoring_func", None) or _ROUTER.get(getattr(c, "model_type", ""), "softmax")),
        "route_groups": _get(c, "n_group"), "route_group_k": _get(c, "topk_group"),
    }


def _shared(c, expert_ffn: int) -> tuple[int, int]:
    """(shared experts, their total intermediate size)."""
    if getattr(c, "n_shared_experts", None):
        return int(c.n_shared_experts), int(c.n_shared_experts) * expert_ffn
    if getattr(c, "shared_expert_intermediate_size", None):
        return 1, int(c.shared_expert_intermediate_size)
    if getattr(c, "model_type", "") in ("llama4_text", "llama4"):
        return 1, expert_ffn
    return 0, 0


def _dense_ffn(c) -> int:
    return int(getattr(c, "intermediate_size_mlp", None) or c.intermediate_size)


def mla_block(config) -> dict[str, Any] | None:
    """The `layer_shape.mla` block of a multi-head latent attention config, or None."""
    c = _text(config)
    if not getattr(c, "kv_lora_rank", None):
        return None
    return {"q_lora_rank": int(getattr(c, "q_lora_rank", None) or 0), "kv_lora_rank": int(c.kv_lora_rank),
            "qk_nope_head_dim": int(c.qk_nope_head_dim), "qk_rope_head_dim": int(c.qk_rope_head_dim),
            "v_head_dim": int(c.v_head_dim)}


# ------------------------------------------------------------------ tracing on meta

@contextlib.contextmanager
def balanced_routing():
    """Inside: Hugging Face builds use `balanced_experts_forward` (card traces on meta only)."""
    _register()
    token = _TRACE_EXPERTS.set(EXPERTS_IMPL)
    try:
        yield
    finally:
        _TRACE_EXPERTS.reset(token)


def build_kwargs() -> dict[str, Any]:
    """`experts_implementation=` for `from_config` inside `balanced_routing()` (models whose experts
    do not dispatch through the experts interface ignore it: `uses_experts_interface`)."""
    impl = _TRACE_EXPERTS.get()
    return {} if impl is None else {"experts_implementation": impl}


def uses_experts_interface(model_cls) -> bool:
    check = getattr(model_cls, "_can_set_experts_implementation", None)
    try:
        return bool(check()) if check is not None else False
    except Exception:  # a heuristic over the module source: unknown means no
        return False


def _register() -> None:
    from transformers.integrations.moe import ExpertsInterface

    if EXPERTS_IMPL not in ExpertsInterface._global_mapping:
        ExpertsInterface.register(EXPERTS_IMPL, balanced_experts_forward)


def _linear(x, w, bias, transposed: bool):
    """x (E, n, in) through per-expert weights w (E, out, in) or, transposed, (E, in, out)."""
    import torch

    out = torch.bmm(x, w if transposed else w.transpose(1, 2))
    return out if bias is None else out + bias.unsqueeze(1)


def _expert_group(self, x, lo: int, hi: int):
    """Rows x (n_e·rows, h) through experts lo..hi-1, each taking an equal block of rows."""
    n_e = hi - lo
    x = x.reshape(n_e, -1, x.shape[-1])
    first = self.gate_up_proj if self.has_gate else self.up_proj
    b1 = (self.gate_up_proj_bias if self.has_gate else self.up_proj_bias) if self.has_bias else None
    y = _linear(x, first[lo:hi], b1[lo:hi] if b1 is not None else None, self.is_transposed)
    y = y.reshape(-1, y.shape[-1])
    y = self._apply_gate(y) if self.has_gate else self.act_fn(y)
    y = y.reshape(n_e, -1, y.shape[-1])
    b2 = self.down_proj_bias[lo:hi] if self.has_bias else None
    out = _linear(y, self.down_proj[lo:hi], b2, self.is_transposed)
    out = out.reshape(-1, out.shape[-1])
    return self.post_expert_norm(out) if getattr(self, "has_post_expert_norm", False) else out


def balanced_experts_forward(self, hidden_states, top_k_index, top_k_weights):
    """Experts forward with the T·k token copies split evenly over the experts (see above)."""
    import torch

    k, (tokens, hidden) = top_k_index.shape[-1], hidden_states.shape
    copies = hidden_states.repeat_interleave(k, dim=0)  # the dispatch gather of a grouped GEMM
    q, r = divmod(copies.shape[0], self.num_experts)
    parts = []
    if r:  # the first r experts take q+1 copies, the others q
        parts.append(_expert_group(self, copies[: r * (q + 1)], 0, r))
    if q:
        parts.append(_expert_group(self, copies[r * (q + 1):], r, self.num_experts))
    out = torch.cat(parts) if len(parts) > 1 else parts[0]
    out = out * top_k_weights.reshape(-1, 1).to(out.dtype)
    return out.view(tokens, k, hidden).sum(dim=1).to(hidden_states.dtype)
