"""LoRA fine-tuning is priced as what it is: frozen base weights, adapters trained."""

from dataclasses import replace

import pytest

from raxlab.predict.api import predict_training
from raxlab.predict.compute import lora_params
from raxlab.predict.layout import Layout


@pytest.fixture
def full(llama70, h100_ib):
    return predict_training(llama70, h100_ib, Layout(tp=4, pp=4, dp=1, global_batch=32, sequence_parallel=True),
                            "bf16", gpus=16)


@pytest.fixture
def lora(llama70, h100_ib):
    return predict_training(llama70, h100_ib, Layout(tp=4, pp=4, dp=1, global_batch=32, sequence_parallel=True,
                                                     lora_rank=16), "bf16", gpus=16)


def test_adapter_parameters_by_hand(llama70):
    # rank 16 on QKV (8192 -> 10240), proj (8192 -> 8192), gate+up (8192 -> 57344), down (28672 -> 8192), tp 4
    h, t = 8192, 4
    expected = 16 * ((10240 / t + h) + (h + h / t) + (57344 / t + h) + (h + 28672 / t))
    assert lora_params(llama70, t, 16) == pytest.approx(expected)


def test_no_optimizer_state_or_gradients_for_frozen_weights(full, lora):
    assert lora.memory_gib["weights"] == pytest.approx(full.memory_gib["weights"])
    assert lora.memory_gib["optimizer"] < 0.01 * full.memory_gib["optimizer"]
    assert lora.memory_gib["gradients"] < 0.01 * full.memory_gib["gradients"]
    assert lora.terms["optimizer"] < 0.01 * full.terms["optimizer"]


def test_backward_skips_weight_gradients(full, lora):
    # forward + data gradient of the frozen GEMMs (1 + 1) against forward + data + weight gradient (1 + 2),
    # plus thin adapter GEMMs: between 2/3 and 3/4 of the full fine-tuning matmul time
    ratio = lora.terms["matmul"] / full.terms["matmul"]
    assert 2 / 3 < ratio < 0.75
    assert lora.step_time_s < full.step_time_s
    assert any("LoRA rank 16" in a for a in lora.assumptions)


def test_lora_gradient_sync_is_small(llama70, h100_ib):
    lay = Layout(tp=8, dp=4, global_batch=32, sequence_parallel=True, overlap_grad_reduce=False)
    full = predict_training(llama70, h100_ib, lay, "bf16", gpus=32)
    lora = predict_training(llama70, h100_ib, replace(lay, lora_rank=16), "bf16", gpus=32)
    assert lora.terms["dp_comm"] < 0.05 * full.terms["dp_comm"]
