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
