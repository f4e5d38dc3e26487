"""Non-transformer cards: data parallel / ZeRO / FSDP only, from per-class FLOPs and bytes."""

import pytest

from raxlab.errors import RaxError
from raxlab.predict.api import predict_card_training
from raxlab.predict.layout import Layout


@pytest.fixture(scope="module")
def cnn_card():
    from raxlab.workload import build_card, load_workload

    return build_card(load_workload("small-cnn"))


def test_cnn_projection_runs_and_scales(cnn_card, a100_ib):
    one = predict_card_training(cnn_card, a100_ib, Layout(dp=8, micro_batch=16, global_batch=128), "bf16")
    two = predict_card_training(cnn_card, a100_ib, Layout(dp=16, micro_batch=16, global_batch=256), "bf16")
    assert one.step_time_s > 0 and one.fits
    assert two.samples_per_s > one.samples_per_s
    assert any("not a transformer" in a for a in one.assumptions)
    assert one.terms["data_loading"] is None


def test_cnn_rejects_tensor_parallel(cnn_card, a100_ib):
    with pytest.raises(RaxError, match="^tp:"):
        predict_card_training(cnn_card, a100_ib, Layout(tp=2, global_batch=2), "bf16")
