"""Transformer shape and the analytic FLOP counts the card and the projection are built from.

A shared leaf (it imports only `errors`), so that the card (`workload/`) and the projection
(`predict/`, which re-exports it as `raxlab.predict.shape`) use one copy of the arithmetic.

A `TransformerShape` is the `layer_shape` block of a workload card (hidden, layers, heads,
kv_heads, ffn, vocab, seq) plus two facts that change the arithmetic: whether the MLP is
gated (SwiGLU: three weight matrices instead of two) and whether the input embedding is
tied to the output projection. Everything here is per token or per sequence and
independent of hardware and layout.

Mixture of experts (`MoEShape`, the card's `layer_shape.moe`): `moe_layers` of the `layers`
blocks replace the MLP by a router (h×E), `experts` routed experts of `expert_ffn` each, of
which every token uses `top_k`, and optional shared experts (`shared_ffn` in all, Megatron-
Core's `moe_shared_expert_intermediate_size`) that every token uses; the other blocks keep a
dense MLP of `ffn`. Resident parameters count every expert, active ones (FLOPs) the top-k and
the shared experts (GShard, Lepikhin et al. 2020; DeepSeek-V3 report, arXiv:2412.19437, §2).
Multi-head latent attention (`MLAShape`, `layer_shape.mla`; DeepSeek-V2, arXiv:2405.04434,
§2.1): queries through an optional low-rank `q_lora_rank`, keys and values through a shared
latent of `kv_lora_rank` plus a decoupled RoPE key of `qk_rope_head_dim`; per head Q·Kᵀ runs
over qk_nope + qk_rope dimensions and A·V over `v_head_dim`, and the KV cache holds only the
latent and the RoPE key: (kv_lora_rank + qk_rope_head_dim) values per token and layer.

FLOP conventions (so a number can be compared with a published one):
- matmul 2·M·N·K (a multiply-add is two FLOPs);
- the attention core (Q·Kᵀ and A·V) is counted over the full s×s square, as Megatron
  (Narayanan et al. 2021, eq. 3) and PaLM (Chowdhery et al. 2022, App. B) do, even though a
  causal FlashAttention kernel executes about half of it (`compute.py` accounts for that);
- model FLOPs = 3 × forward (backward is twice the forward), without recomputation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from raxlab.errors import RaxError


@dataclass(frozen=True)
class MoEShape:
    """The mixture-of-experts part of a transformer (see the module docstring)."""

    experts: int  # routed experts per MoE layer
    top_k: int  # routed experts per token
    expert_ffn: int  # intermediate size of one routed expert
    moe_layers: int  # blocks with experts; the other blocks have a dense MLP of `ffn`
    shared_experts: int = 0
    shared_ffn: int = 0  # intermediate size of all shared experts together
    gated: bool = True  # experts are SwiGLU (3 matrices)

    def __post_init__(self):
        for name in ("experts", "top_k", "expert_ffn", "moe_layers"):
            if int(getattr(self, name)) <= 0:
                raise RaxError(f"must be a positive integer, got {getattr(self, name)!r}", field=f"layer_shape.moe.{name}")
        if self.top_k > self.experts:
            raise RaxError(f"top_k {self.top_k} exceeds the {self.experts} experts", field="layer_shape.moe.top_k")

    def expert_params(self, hidden: int) -> int:
        return (3 if self.gated else 2) * hidden * self.expert_ffn

    def shared_params(self, hidden: int) -> int:
        return (3 if self.gated else 2) * hidden * self.shared_ffn

    def router_params(self, hidden: int) -> int:
        return hidden * self.experts


@dataclass(frozen=True)
class MLAShape:
    """Multi-head latent attention (DeepSeek-V2/V3); `q_lora_rank` 0 = full-rank queries."""

    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int
    q_lora_rank: int = 0

    def __post_init__(self):
        for name in ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
            if int(getattr(self, name)) <= 0:
                raise RaxError(f"must be a positive integer, got {getattr(self, name)!r}", field=f"layer_shape.mla.{name}")

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    def params(self, hidden: int, heads: int) -> int:
        """W_DQ, W_UQ (or W_Q), W_DKV with the RoPE key, W_UK and W_UV, W_O (norms excluded)."""
        q = (hidden * self.q_lora_rank + self.q_lora_rank * heads * self.qk_head_dim if self.q_lora_rank
             else hidden * heads * self.qk_head_dim)
        kv = hidden * (self.kv_lora_rank + self.qk_rope_head_dim)
        kv += self.kv_lora_rank * heads * (self.qk_nope_head_dim + self.v_head_dim)
        return q + kv + heads * self.v_head_dim * hidden

    @property
    def cache_dim(self) -> int:
        """Values cached per token and layer: the KV latent and the decoupled RoPE key."""
        return self.kv_lora_rank + self.qk_rope_head_dim


@dataclass(frozen=True)
class TransformerShape:
    """A decoder-only transformer. `seq` is the training/prompt sequence length."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    seq: int
    kv_heads: int | None = None  # None: multi-head attention (kv_heads == heads)
    gated_mlp: bool = False  # SwiGLU-style MLP (Llama): 3 weight matrices
    tied_embeddings: bool = True  # GPT/MPT tie input and output embeddings; Llama does not
    learned_pos: int = 0  # rows of a learned position table (GPT-2/MPT benchmark configs), else 0
    head_dim_: int | None = None  # when heads × head_dim ≠ hidden (some HF configs)
    moe: MoEShape | None = None  # mixture of experts (None: every block has a dense MLP)
    mla: MLAShape | None = None  # multi-head latent attention (None: MHA/GQA/MQA)

    def __post_init__(self):
        for name in ("hidden", "layers", "heads", "ffn", "vocab", "seq"):
            if int(getattr(self, name)) <= 0:
                raise RaxError(f"must be a positive integer, got {getattr(self, name)!r}", field=f"layer_shape.{name}")
        if self.head_dim_ is None and self.hidden % self.heads:
            raise RaxError(f"hidden {self.hidden} is not divisible by heads {self.heads}", field="layer_shape.heads")
        if self.heads % self.kv:
            raise RaxError(f"heads {self.heads} not divisible by kv_heads {self.kv}", field="layer_shape.kv_heads")
        if self.moe is not None and self.moe.moe_layers > self.layers:
            raise RaxError(f"{self.moe.moe_layers} MoE layers exceed the {self.layers} layers",
                           field="layer_shape.moe.moe_layers")

    @property
    def kv(self) -> int:
        return self.heads if self.mla is not None else (self.kv_heads or self.heads)

    @property
    def head_dim(self) -> float:
        """Per-head width; under MLA the mean of the Q·Kᵀ and A·V widths, so that 4·s·q_dim and
        2·kv_dim stay the attention FLOPs per token and the K+V width the kernels move."""
        if self.mla is not None:
            return (self.mla.qk_head_dim + self.mla.v_head_dim) / 2
        return self.head_dim_ or self.hidden // self.heads

    @property
    def q_dim(self) -> int:
        """Width of Q and of the attention output: heads × head_dim (= hidden for most models)."""
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of K (and of V): kv_heads × head_dim (smaller than hidden under GQA/MQA)."""
        return self.kv * self.head_dim

    def with_seq(self, seq: int) -> "TransformerShape":
        return replace(self, seq=int(seq))

    # -- parameters ---------------------------------------------------------------------
    @property
    def attn_params(self) -> int:
        """QKV and output projections of one block (MLA: its down/up projections)."""
        if self.mla is not None:
            return self.mla.params(self.hidden, self.heads)
        h = self.hidden
        return h * (self.q_dim + 2 * self.kv_dim) + self.q_dim * h

    @property
    def dense_mlp_params(self) -> int:
        return (3 if self.gated_mlp else 2) * self.hidden * self.ffn

    @property
    def n_moe(self) -> int:
        return self.moe.moe_layers if self.moe is not None else 0

    def _moe_block(self, experts: int) -> int:
        """MLP part of one MoE block with `experts` routed experts counted: router, shared, routed."""
        m, h = self.moe, self.hidden
        return m.router_params(h) + m.shared_params(h) + experts * m.expert_params(h)

    @property
    def block_params(self) -> int:
        """Weights of all blocks (biases and norms are < 0.1 %)."""
        dense = (self.layers - self.n_moe) * self.dense_mlp_params
        moe = self.n_moe * self._moe_block(self.moe.experts) if self.moe is not None else 0
        return self.layers * self.attn_params + dense + moe

    @property
    def active_block_params(self) -> int:
        """Weights of all blocks that one token uses (top-k routed and the shared experts)."""
        if self.moe is None:
            return self.block_params
        dense = (self.layers - self.n_moe) * self.dense_mlp_params
        return self.layers * self.attn_params + dense + self.n_moe * self._moe_block(self.moe.top_k)

    @property
    def expert_block_params(self) -> int:
        """Routed-expert weights of all blocks (what expert parallelism shards)."""
        return self.n_moe * self.moe.experts * self.moe.expert_params(self.hidden) if self.moe is not None else 0

    @property
    def layer_params(self) -> float:
        """Weights of one block: QKV, output projection, MLP (biases and norms are < 0.1 %);
        for a mixture of experts the mean over the blocks, every expert counted."""
        if self.moe is None:
            return self.attn_params + self.dense_mlp_params
        return self.block_params / self.layers

    @property
    def layer_active_params(self) -> float:
        """Mean weights per block one token multiplies (= layer_params for a dense model)."""
        return self.layer_params if self.moe is None else self.active_block_params / self.layers

    @property
    def embedding_params(self) -> int:
        tables = 1 if self.tied_embeddings else 2
        return tables * self.vocab * self.hidden + self.learned_pos * self.hidden

    @property
    def params(self) -> int:
        if self.moe is None:
            return self.layers * self.layer_params + self.embedding_params
        return self.block_params + self.embedding_params

    @property
    def active_params(self) -> int:
        """Parameters one token uses (embeddings included, as the DeepSeek-V3 report's 37 B)."""
        return self.active_block_params + self.embedding_params

    def dense_view(self) -> "TransformerShape":
        """The shape without its routed experts: attention, dense MLPs, shared experts and routers,
        averaged over the blocks into one equivalent dense MLP (so per-block arithmetic written
        for dense models covers everything but the routed experts, which `moe.py` adds)."""
        if self.moe is None:
            return self
        per_block = (self.block_params - self.expert_block_params) / self.layers - self.attn_params
        return replace(self, moe=None, ffn=per_block / ((3 if self.gated_mlp else 2) * self.hidden))

    # -- FLOPs per token (forward) --------------------------------------------------------
    def layer_matmul_flops_per_token(self) -> float:
        """GEMMs of one block, forward: 2 × weights (MoE: the active weights, mean per block)."""
        return 2.0 * self.layer_active_params

    def layer_attention_flops_per_token(self, seq: int | None = None) -> float:
        """Q·Kᵀ and A·V, forward, full s×s square: 2 GEMMs × 2·s·h."""
        return 4.0 * (seq or self.seq) * self.q_dim

    def router_flops_per_token(self) -> float:
        """Forward router GEMMs of all MoE blocks (h × experts each)."""
        return 2.0 * self.n_moe * self.moe.router_params(self.hidden) if self.moe is not None else 0.0

    def head_flops_per_token(self) -> float:
        """Output projection to the vocabulary, forward."""
        return 2.0 * self.vocab * self.hidden

    def model_flops_per_token(self, seq: int | None = None) -> float:
        """Training FLOPs per token without recomputation: 3 × forward (PaLM App. B)."""
        fwd = self.layers * (self.layer_matmul_flops_per_token() + self.layer_attention_flops_per_token(seq))
        return 3.0 * (fwd + self.head_flops_per_token())

    def kv_cache_bytes_per_token(self, dtype_bytes: float = 2.0) -> float:
        """K and V of every layer for one token of context (MLA: the latent and the RoPE key)."""
        if self.mla is not None:
            return self.layers * self.mla.cache_dim * dtype_bytes
        return 2.0 * self.layers * self.kv_dim * dtype_bytes


def megatron_eq3_flops(batch: int, seq: int, layers: int, hidden: int, vocab: int, recompute: bool = True) -> float:
    """Narayanan et al. 2021 eq. 3: FLOPs of one iteration (with full recompute: 96 and V/16lh;
    without: 72 and V/12lh). GEMMs only, so a lower bound on the work done."""
    b, s, l, h, v = batch, seq, layers, hidden, vocab
    if recompute:
        return 96.0 * b * s * l * h * h * (1 + s / (6 * h) + v / (16 * l * h))
    return 72.0 * b * s * l * h * h * (1 + s / (6 * h) + v / (12 * l * h))


_SHAPE_KEYS = ("hidden", "layers", "heads", "ffn", "vocab", "seq")


def shape_from_layer_shape(ls: Mapping[str, Any], **extra: Any) -> TransformerShape:
    """Build from a card's `layer_shape` dict ({hidden, layers, heads, kv_heads, head_dim, ffn,
    vocab, seq, tied_embeddings}); `extra` overrides (e.g. `seq=` from the command line)."""
    data = {k: ls.get(k) for k in _SHAPE_KEYS}
    data.update({k: v for k, v in extra.items() if v is not None and k in _SHAPE_KEYS})
    missing = [k for k, v in data.items() if v is None]
    if missing:
        raise RaxError(f"card layer_shape lacks {', '.join(missing)}", field="layer_shape")
    opt: dict[str, Any] = {}
    if ls.get("kv_heads"):
        opt["kv_heads"] = int(ls["kv_heads"])
    if ls.get("head_dim") and int(ls["head_dim"]) * int(data["heads"]) != int(data["hidden"]):
        opt["head_dim_"] = int(ls["head_dim"])
    for k in ("gated_mlp", "tied_embeddings", "learned_pos"):
        if ls.get(k) is not None:
            opt[k] = ls[k]
    if ls.get("moe"):
        opt["moe"] = _sub(MoEShape, ls["moe"], "moe")
    if ls.get("mla"):
        opt["mla"] = _sub(MLAShape, ls["mla"], "mla")
    opt.update({k: v for k, v in extra.items() if v is not None and k not in _SHAPE_KEYS})
    return TransformerShape(**{k: int(v) for k, v in data.items()}, **opt)


def _sub(cls, block: Mapping[str, Any], name: str):
    """A MoEShape/MLAShape from its layer_shape block (descriptive extra keys are ignored)."""
    from dataclasses import fields

    names = [f.name for f in fields(cls)]
    if not isinstance(block, Mapping):
        raise RaxError(f"must be a mapping of {', '.join(names)}", field=f"layer_shape.{name}")
    try:
        return cls(**{k: block[k] for k in names if block.get(k) is not None})
    except TypeError as exc:
        raise RaxError(f"incomplete: {exc}", field=f"layer_shape.{name}") from None


def shape_from_card(card: Any, seq: int | None = None) -> TransformerShape | None:
    """The card's transformer shape, or None for other models.

    The card does not say whether the MLP is gated (SwiGLU has three weight matrices, GPT's
    MLP two); of the two readings, take the one whose parameter count is closer to the card's
    traced `params` (they differ by layers × hidden × ffn, far more than biases and norms)."""
    ls = getattr(card, "layer_shape", None) if not isinstance(card, Mapping) else card.get("layer_shape")
    if not ls:
        return None
    params = card["params"] if isinstance(card, Mapping) else card.params
    if ls.get("gated_mlp") is not None:
        return shape_from_layer_shape(ls, seq=seq)
    options = [shape_from_layer_shape(ls, seq=seq, gated_mlp=g) for g in (False, True)]
    return min(options, key=lambda s: abs(s.params - params))
