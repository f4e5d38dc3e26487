"""Memory terms against hand-computed values: ZeRO stages, Korthikanti activations, KV cache."""

import pytest

from raxlab.predict import memory as m


@pytest.mark.parametrize("zero,expected", [
    (0, (2, 2, 12)),             # 16 bytes per parameter (DESIGN.md)
    (1, (2, 2, 12 / 8)),         # optimizer sharded
    (2, (2, 2 / 8, 12 / 8)),     # + gradients
    (3, (2 / 8, 2 / 8, 12 / 8)),  # + weights (FSDP)
])
def test_zero_stages_shard_the_right_parts(zero, expected):
    w, g, o = m.model_state_bytes(1.0, 8, zero)
    assert (float(w), float(g), float(o)) == pytest.approx(expected)


def test_korthikanti_activation_table():
    s, b, h, a, t = 2048, 1, 12288, 96, 8
    sbh = s * b * h
    no_sp = m.activation_bytes_per_layer(s, b, h, a, t, 0, 0, 0)
    assert float(no_sp) == pytest.approx(sbh * (10 + 24 / t + 5 * a * s / (h * t)))
    sp = m.activation_bytes_per_layer(s, b, h, a, t, 1, 0, 0)
    assert float(sp) == pytest.approx(sbh * (34 + 5 * a * s / h) / t)
    selective = m.activation_bytes_per_layer(s, b, h, a, t, 1, 1, 0)
    assert float(selective) == pytest.approx(sbh * 34 / t)
    full = m.activation_bytes_per_layer(s, b, h, a, t, 1, 2, 0)
    assert float(full) == pytest.approx(2 * sbh / t)
    flash = m.activation_bytes_per_layer(s, b, h, a, 1, 0, 0, 1)
    assert float(flash) == pytest.approx(sbh * 34)  # no s×s scores stored


def test_pipeline_first_stage_holds_pp_microbatches():
    assert float(m.pipeline_activation_factor(4, 1, 16)) == 1.0  # l/pp layers x pp micro-batches = l
    assert float(m.pipeline_activation_factor(4, 1, 2)) == 0.5  # only 2 micro-batches in flight
    assert float(m.pipeline_activation_factor(4, 2, 16)) == pytest.approx(1 + 3 / 8)


def test_kv_cache_bytes_llama70b(llama70):
    per_token = 2 * 80 * 8 * 128 * 2  # K and V, 80 layers, 8 KV heads of 128, bf16
    assert llama70.kv_cache_bytes_per_token() == per_token == 327_680
    assert float(m.kv_cache_bytes(llama70, batch=4, context=1000)) == per_token * 4000
    assert float(m.kv_cache_bytes(llama70, batch=1, context=1, tp=8)) == per_token / 8
    assert float(m.kv_cache_bytes(llama70, batch=1, context=1, tp=16)) == per_token / 8  # replicated


def test_fused_activation_count_by_hand():
    """GPT without dropout: Korthikanti's 34·sbh less the two 1-byte masks = 32·sbh (SP over t);
    fp8 keeps 1-byte copies of linear inputs; a gated MLP stores both up projections."""
    import numpy as np

    from raxlab.predict.memory import fused_activation_bytes_per_layer
    from raxlab.predict.shape import TransformerShape

    gpt = TransformerShape(hidden=4096, layers=2, heads=32, ffn=16384, vocab=1000, seq=2048)
    s, b, t = 2048, 2, 4
    sbh = s * b * 4096
    assert float(fused_activation_bytes_per_layer(gpt, s, b, t, 1, 0)) == 32 * sbh / t
    # fp8: QKV/MLP inputs 1 byte (-2h), FC2 input 1 byte (-4h), attention output's fp8 copy (+1h)
    assert float(fused_activation_bytes_per_layer(gpt, s, b, t, 1, 0, in_bytes=1.0)) == (32 - 2 - 4 + 1) * sbh / t
    # without SP the LayerNorm part (4h + 2·2h) is replicated on every TP rank
    assert float(fused_activation_bytes_per_layer(gpt, s, b, t, 0, 0)) == (8 + 24 / t) * sbh
    # full recompute keeps the layer input only
    assert float(fused_activation_bytes_per_layer(gpt, s, b, t, 1, 2)) == 2 * sbh / t
    gated = TransformerShape(hidden=4096, layers=2, heads=32, ffn=11008, vocab=1000, seq=2048, gated_mlp=True)
    per_token = 8 * 4096 + 2 * 3 * 4096 + 2 * 4096 + 2 * 2 * 11008 + 2 * 11008
    assert np.isclose(float(fused_activation_bytes_per_layer(gated, s, b, 1, 1, 0)), s * b * per_token)
