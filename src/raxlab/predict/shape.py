"""Transformer shape and the analytic FLOP counts the projection is built from.

A `TransformerShape` is the `layer_shape` block of a workload card (hidden, layers, heads,
kv_heads, ffn, vocab, seq) plus two facts that change the arithmetic: whether the MLP is
gated (SwiGLU: three weight matrices instead of two) and whether the input embedding is
tied to the output projection. Everything here is per token or per sequence and
independent of hardware and layout.

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

    def __post_init__(self):
        for name in ("hidden", "layers", "heads", "ffn", "vocab", "seq"):
            if int(getattr(self, name)) <= 0:
                raise RaxError(f"must be a positive integer, got {getattr(self, name)!r}", field=f"layer_shape.{name}")
        if self.head_dim_ is None and self.hidden % self.heads:
            raise RaxError(f"hidden {self.hidden} is not divisible by heads {self.heads}", field="layer_shape.heads")
        if self.heads % self.kv:
            raise RaxError(f"heads {self.heads} not divisible by kv_heads {self.kv}", field="layer_shape.kv_heads")

    @property
    def kv(self) -> int:
        return self.kv_heads or self.heads

    @property
    def head_dim(self) -> int:
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
    def layer_params(self) -> int:
        """Weights of one block: QKV, output projection, MLP (biases and norms are < 0.1 %)."""
        h = self.hidden
        attn = h * (self.q_dim + 2 * self.kv_dim) + self.q_dim * h
        mlp = (3 if self.gated_mlp else 2) * h * self.ffn
        return attn + mlp

    @property
    def embedding_params(self) -> int:
        tables = 1 if self.tied_embeddings else 2
        return tables * self.vocab * self.hidden + self.learned_pos * self.hidden

    @property
    def params(self) -> int:
        return self.layers * self.layer_params + self.embedding_params

    # -- FLOPs per token (forward) --------------------------------------------------------
    def layer_matmul_flops_per_token(self) -> float:
        """Dense GEMMs of one block, forward: 2 × weights."""
        return 2.0 * self.layer_params

    def layer_attention_flops_per_token(self, seq: int | None = None) -> float:
        """Q·Kᵀ and A·V, forward, full s×s square: 2 GEMMs × 2·s·h."""
        return 4.0 * (seq or self.seq) * self.q_dim

    def head_flops_per_token(self) -> float:
        """Output projection to the vocabulary, forward."""
        return 2.0 * self.vocab * self.hidden

    def model_flops_per_token(self, seq: int | None = None) -> float:
        """Training FLOPs per token without recomputation: 3 × forward (PaLM App. B)."""
        fwd = self.layers * (self.layer_matmul_flops_per_token() + self.layer_attention_flops_per_token(seq))
        return 3.0 * (fwd + self.head_flops_per_token())

    def kv_cache_bytes_per_token(self, dtype_bytes: float = 2.0) -> float:
        """K and V of every layer for one token of context."""
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
    opt.update({k: v for k, v in extra.items() if v is not None and k not in _SHAPE_KEYS})
    return TransformerShape(**{k: int(v) for k, v in data.items()}, **opt)


def shape_from_card(card: Any, seq: int | None = None) -> TransformerShape | None:
    """The card's transformer shape, or None for other models.

    The card does not say whether the MLP is gated (SwiGLU has three weight matrices, GPT's
    MLP two); of the two readings, take the one whose parameter count is closer to the card's
    traced `params` (they differ by layers × hidden × ffn, far more than biases and norms)."""
    ls = getattr(card, "layer_shape", None) if not isinstance(card, Mapping) else card.get("layer_shape")
    if not ls:
        return None
    params = card["params"] if isinstance(card, Mapping) else card.params
    options = [shape_from_layer_shape(ls, seq=seq, gated_mlp=g) for g in (False, True)]
    return min(options, key=lambda s: abs(s.params - params))
