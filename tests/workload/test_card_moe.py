"""Mixture-of-experts cards: traced on meta with balanced routing, exact against hand counts,
exact extrapolation over a dense prefix, analytic where tracing cannot follow the routing."""

import pytest

from raxlab.shape import shape_from_layer_shape
from raxlab.workload import build_card, load_workload
from raxlab.workload.spec import WorkloadSpec
from raxlab.workload.workload import Workload

SEQ = 64
BASE = dict(hidden_size=128, num_attention_heads=4, vocab_size=512, max_position_embeddings=4096)
MIXTRAL = dict(model_type="mixtral", num_hidden_layers=3, num_key_value_heads=2, intermediate_size=256,
               num_local_experts=8, num_experts_per_tok=2)
DEEPSEEK = dict(model_type="deepseek_v3", num_hidden_layers=4, num_key_value_heads=4, intermediate_size=384,
                moe_intermediate_size=64, n_routed_experts=16, n_shared_experts=2, num_experts_per_tok=4, n_group=4,
                topk_group=2, first_k_dense_replace=1, q_lora_rank=48, kv_lora_rank=32, qk_nope_head_dim=32,
                qk_rope_head_dim=16, v_head_dim=32)
LLAMA4 = dict(model_type="llama4_text", num_hidden_layers=3, num_key_value_heads=2, head_dim=32, intermediate_size=128,
              intermediate_size_mlp=256, num_local_experts=4, num_experts_per_tok=1)
_CARDS: dict = {}


def card(model: dict, **kw):
    key = (tuple(sorted(model.items())), tuple(sorted(kw.items())))
    if key not in _CARDS:
        spec = WorkloadSpec.model_validate(dict(name="moe-t", model={**BASE, **model}, data="tiny-text", task="train",
                                                seq_len=SEQ, micro_batch=1, global_batch=8, meta_only=True))
        _CARDS[key] = build_card(Workload(spec), **kw)
    return _CARDS[key]


def train_flops_per_token(blocks_active: int, attn_core_per_layer: int, layers: int) -> int:
    """3 x forward: 2 x active block weights, the attention core, the 512 x 128 output layer."""
    return 3 * (2 * blocks_active + layers * attn_core_per_layer + 2 * 512 * 128)


def test_mixtral_traces_on_meta_with_top_k_flops():
    c = card(MIXTRAL)  # meta_only: the failing case, now traced on meta
    assert c.trace["device"] == "meta" and c.moe["method"].startswith("traced on meta")
    attn = 128 * 128 + 2 * 128 * 64 + 128 * 128  # Q, K and V of 2 KV heads x 32, O
    router, expert = 128 * 8, 3 * 128 * 256
    per_block = attn + router + 2 * expert  # top-2 of 8 experts
    assert c.train_flops_per_sample == SEQ * train_flops_per_token(3 * per_block, 4 * SEQ * 128, 3)
    assert c.moe["active_params"] == 3 * per_block + 2 * 512 * 128
    assert c.moe["params_per_expert"] == expert and c.moe["routed_expert_params"] == 3 * 8 * expert
    assert c.moe["router_flops_per_token"] == 3 * 2 * router
    assert c.moe["tokens_dispatched_per_layer"] == SEQ * 2
    assert c.moe["a2a_bytes_per_token_layer"] == 2 * 2 * 128 * 2  # dispatch + combine, top-2, bf16
    # every expert is resident: the traced parameters hold all 8 (norms add 1 % here)
    assert abs(c.params / (3 * (attn + router + 8 * expert) + 2 * 512 * 128) - 1) < 0.01


def test_deepseek_mla_shared_experts_and_dense_prefix():
    c = card(DEEPSEEK)
    assert c.trace["layers"] == [2, 3]  # one dense block, then MoE blocks: traced at 2 and 3
    mla = (128 * 48 + 48 * 4 * 48) + 128 * (32 + 16) + 32 * 4 * (32 + 32) + 4 * 32 * 128
    dense = 3 * 128 * 384
    moe = 128 * 16 + 3 * 128 * 2 * 64 + 4 * 3 * 128 * 64  # router, 2 shared, top-4 routed
    attn_core = 2 * SEQ * 4 * ((32 + 16) + 32)  # Q.K^T over nope+rope, A.V over v_head_dim
    assert c.train_flops_per_sample == SEQ * train_flops_per_token(4 * mla + dense + 3 * moe, attn_core, 4)
    assert c.moe["dense_layers"] == 1 and c.moe["moe_layers"] == 3 and c.moe["shared_experts"] == 2
    shape = shape_from_layer_shape(c.layer_shape)
    assert shape.kv_cache_bytes_per_token(2) == 4 * (32 + 16) * 2  # latent + RoPE key per layer


def test_extrapolation_over_a_dense_prefix_is_exact():
    fast, full = card(DEEPSEEK), card(DEEPSEEK, extrapolate=False)
    assert full.trace["layers"] is None
    for key in ("params", "train_flops_per_sample", "flops_by_class", "bytes_by_class", "bytes_fixed_by_class",
                "activation_bytes_per_sample", "optimizer_step_bytes"):
        assert getattr(fast, key) == getattr(full, key), key


def test_experts_outside_the_interface_get_an_analytic_card():
    c = card(LLAMA4)  # transformers' llama4 runs every expert on every token: a trace would not be top-k
    assert c.trace["device"] == "analytic" and c.moe["method"] == "analytic from the config"
    assert any("derived analytically" in n for n in c.notes)
    attn, router, expert = 128 * 128 + 2 * 128 * 64 + 128 * 128, 128 * 4, 3 * 128 * 128
    per_block = attn + router + expert + expert  # top-1 routed + the shared expert
    assert c.train_flops_per_sample == SEQ * train_flops_per_token(3 * per_block, 4 * SEQ * 128, 3)
    assert c.params > 3 * (attn + router + 5 * expert)  # counted on a meta build: all 4 experts + shared


def test_full_size_mixtral_8x22b_matches_the_published_141b():
    c = build_card(load_workload("mixtral-8x22b"))
    assert c.trace["device"] == "meta" and abs(c.params / 141e9 - 1) < 0.01
    assert abs(c.moe["active_params"] / 39e9 - 1) < 0.01


@pytest.mark.parametrize("name,total,active", [
    ("deepseek-v3", 671e9, 37e9), ("mixtral-8x7b", 46.7e9, 12.9e9), ("qwen3-30b-a3b", 30.5e9, 3.3e9),
    ("qwen3-235b-a22b", 235e9, 22e9)])
def test_preset_shapes_match_published_totals(name, total, active):
    shape = shape_from_layer_shape(load_workload(name).layer_shape)
    assert abs(shape.params / total - 1) < 0.01
    assert abs(shape.active_params / active - 1) < 0.03  # published active counts are rounded (37B, 3.3B)


def test_dense_cards_keep_their_keys():
    c = build_card(load_workload("tiny-lm"))
    assert c.moe is None and "moe" not in c.to_dict() and "moe" not in c.layer_shape
