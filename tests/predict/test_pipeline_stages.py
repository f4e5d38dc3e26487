"""Uneven pipeline stages: the remainder of layers ÷ stages, its pace, bubble and memory."""

from dataclasses import replace

import numpy as np
import pytest

from raxlab.predict.api import predict_training
from raxlab.predict.layout import Layout
from raxlab.predict.training import stage_layers


@pytest.mark.parametrize("layers, pp, vpp, expected", [
    (126, 16, 1, (8, 6)),    # Llama 3 405B on 16 stages: 15 × 8 + 6
    (80, 3, 1, (27, 26)),
    (80, 4, 1, (20, 20)),    # even split unchanged
    (80, 4, 3, (21, 17)),    # chunks of ceil(80 / 12) = 7 layers, 3 per stage
])
def test_stage_layers_by_hand(layers, pp, vpp, expected):
    assert tuple(float(x) for x in stage_layers(layers, pp, vpp)) == expected


@pytest.fixture
def llama405(llama70):
    return replace(llama70, hidden=16384, layers=126, heads=128, ffn=53248, seq=8192)


def test_uneven_stages_run_at_the_pace_of_the_fullest_stage(llama405, h100_ib):
    lay = Layout(tp=8, pp=16, dp=2, micro_batch=1, global_batch=64, recompute="full", sequence_parallel=True)
    uneven = predict_training(llama405, h100_ib, lay, "bf16")
    even = predict_training(replace(llama405, layers=128), h100_ib, lay, "bf16")
    # 8 layers on the fullest stage either way: the same compute and activation memory ...
    assert uneven.terms["matmul"] == pytest.approx(even.terms["matmul"], rel=1e-9)
    assert uneven.memory_gib["activations"] == pytest.approx(even.memory_gib["activations"], rel=1e-9)
    # ... but the 126-layer model's last stage (6 layers and the output layer) is lighter than 8
    # layers, so no stage carries 8 layers and the output layer: a smaller bubble
    assert uneven.terms["output_layer"] == 0.0 < even.terms["output_layer"]
    m = 64 / (1 * 2)
    stage = sum(uneven.terms[k] for k in ("matmul", "attention", "elementwise", "recompute", "tp_comm",
                                          "launch_overhead")) / m
    assert uneven.terms["bubble"] == pytest.approx(15 * stage, rel=1e-9)
    assert uneven.terms["bubble"] < even.terms["bubble"]


def test_critical_stage_is_the_slower_of_full_and_last(llama70, h100_ib):
    from raxlab.predict.compute import head_cost, layer_cost
    from raxlab.predict.hardware import hw_consts
    from raxlab.predict.layout import as_arrays

    lay = Layout(tp=8, pp=3, dp=1, micro_batch=1, global_batch=12)  # 80 layers: 27, 27, 26
    hc, la = hw_consts(h100_ib, "bf16"), as_arrays(lay)
    lc = layer_cost(llama70, la, hc)
    per_layer, head = float(lc.fwd + lc.bwd), float(head_cost(llama70, la, hc))
    proj = predict_training(llama70, h100_ib, lay, "bf16")
    assert proj.terms["bubble"] / 2 == pytest.approx(max(27 * per_layer, 26 * per_layer + head), rel=1e-9)
