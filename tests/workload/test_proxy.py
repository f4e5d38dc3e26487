"""A meta-only model measured through its runnable proxy."""

import pytest

from raxlab.errors import RaxError
from raxlab.workload import build_card, load_workload


def test_default_workload_cards_the_full_model_and_builds_the_proxy():
    full = load_workload("llm-1b-pretrain")
    assert full.meta_only and full.spec.proxy is not None
    card = build_card(full)
    assert card.params == pytest.approx(1.100e9, rel=0.005)  # TinyLlama-1.1B shape
    proxy = load_workload("llm-1b-pretrain", proxy=True)
    assert proxy.name == "llm-1b-pretrain@proxy" and not proxy.meta_only
    assert proxy.spec.seq_len == 256 and proxy.layer_shape["hidden"] == 256
    # the proxy keeps the family: head_dim, grouped-query attention, the MLP ratio
    assert proxy.layer_shape["head_dim"] == full.layer_shape["head_dim"] == 64
    assert proxy.layer_shape["kv_heads"] < proxy.layer_shape["heads"]
    assert proxy.layer_shape["ffn"] / 256 == full.layer_shape["ffn"] / 2048 == 2.75
    loss = proxy.loss(proxy.build_model(), proxy.make_batch(2))
    assert loss.ndim == 0 and float(loss.detach()) > 0


def test_proxy_needs_a_config_model(write_spec):
    spec = write_spec(model="small-cnn", data="shapes", proxy={"model_overrides": {"width": 4}})
    with pytest.raises(RaxError, match="proxy"):
        load_workload(str(spec))


def test_workload_without_proxy_refuses_proxy_request():
    with pytest.raises(RaxError, match="no proxy block"):
        load_workload("tiny-lm", proxy=True)


def test_unknown_proxy_key_is_named(write_spec):
    spec = write_spec(model={"model_type": "llama"}, data="tiny-text", seq_len=16,
                      proxy={"model_overrides": {"hidden_size": 64}, "layers": 2})
    with pytest.raises(RaxError, match="proxy.layers: unknown key; allowed: model_overrides"):
        load_workload(str(spec))


def test_proxy_suffix_on_the_reference():
    wl = load_workload("llm-1b-pretrain@proxy")
    assert wl.name == "llm-1b-pretrain@proxy" and not wl.meta_only
    with pytest.raises(RaxError, match="no proxy block"):
        load_workload("tiny-lm@proxy")
