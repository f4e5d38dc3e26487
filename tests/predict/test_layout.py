"""Impossible layouts are one-line RaxErrors that name the field; the vectorised twin agrees."""

import numpy as np
import pytest

from raxlab.errors import RaxError
from raxlab.predict.layout import PROBLEMS, Layout, as_arrays, check_layout, layout_problems, make_arrays


def _err(lay, **kw) -> str:
    with pytest.raises(RaxError) as e:
        check_layout(lay, **kw)
    text = str(e.value)
    assert "\n" not in text
    return text


def test_product_must_equal_gpus():
    assert _err(Layout(tp=8, pp=4, dp=16, global_batch=64), gpus=1024).startswith("gpus:")


def test_tp_across_nodes_is_checked_by_the_planner_only():
    check_layout(Layout(tp=16, dp=1, global_batch=1), gpus_per_node=8)  # projected with a warning (api)
    codes = layout_problems(make_arrays(tp=[16], gb=1), gpus=16, gpus_per_node=8)
    assert PROBLEMS[int(codes[0])] == "tp spans nodes"


def test_heads_divisible_by_tp():
    assert "heads" in _err(Layout(tp=8, global_batch=1), heads=12).split(":", 1)[1]
    assert _err(Layout(tp=8, global_batch=1), heads=12).startswith("tp:")


def test_uneven_pipeline_stages_are_allowed_but_every_chunk_needs_a_layer():
    check_layout(Layout(pp=16, global_batch=16), layers=126)  # Llama 3 405B on 16 stages
    check_layout(Layout(pp=4, vpp=3, global_batch=8), layers=80)
    assert _err(Layout(pp=4, vpp=3, global_batch=8), layers=11).startswith("pp:")
    codes = layout_problems(make_arrays(pp=[16, 16], vpp=[1, 8], gb=16), gpus=16, gpus_per_node=8, layers=126)
    assert [PROBLEMS[int(c)] for c in codes] == ["ok", "layers < pp*vpp"]


def test_global_batch_divisible_by_micro_batch_times_dp():
    assert _err(Layout(dp=32, micro_batch=3, global_batch=1000)).startswith("global_batch:")


def test_non_transformers_get_data_parallel_only():
    assert _err(Layout(tp=2, global_batch=2), transformer=False).startswith("tp:")
    assert _err(Layout(pp=2, global_batch=2), transformer=False).startswith("pp:")


def test_zero3_with_pipeline_and_bad_enums():
    assert _err(Layout(pp=2, zero=3, global_batch=2)).startswith("zero:")
    assert _err(Layout(recompute="some")).startswith("recompute:")
    assert _err(Layout(attention="magic")).startswith("attention:")


def test_a_possible_layout_passes():
    check_layout(Layout(tp=8, pp=4, dp=32, micro_batch=1, global_batch=1024), gpus=1024, gpus_per_node=8,
                 heads=64, kv_heads=8, layers=80)


def test_vectorised_problem_codes_match():
    la = make_arrays(tp=[8, 16, 8, 8, 8], pp=[4, 2, 4, 3, 4], dp=[32, 32, 32, 32, 32], mb=1,
                     gb=[1024, 1024, 1024, 1024, 1000])
    la.dp = np.array([32, 32, 16, 32, 32], dtype=float)
    codes = layout_problems(la, gpus=1024, gpus_per_node=8, heads=64, layers=80)
    names = [PROBLEMS[c] for c in codes]
    assert names == ["ok", "tp spans nodes", "tp x pp x cp x dp != gpus", "tp x pp x cp x dp != gpus",
                     "global_batch % (micro_batch*dp)"]
    one = layout_problems(as_arrays(Layout(tp=8, pp=4, dp=32, global_batch=1024)), 1024, 8, 64, 80)
    assert int(np.asarray(one).ravel()[0]) == 0


def test_expert_parallel_rules():
    ok = Layout(tp=2, cp=2, dp=4, ep=4, global_batch=8)
    check_layout(ok, gpus=16, gpus_per_node=8, experts=64, seq=4096)
    assert ok.edp == 2 and ok.expert_tp == 2 and ok.gpus == 16
    assert _err(Layout(ep=2, dp=2, global_batch=2)).startswith("ep:")  # a dense model has no experts
    assert "divisible by ep" in _err(Layout(dp=8, ep=8, global_batch=8), experts=60)
    assert "MoE parallel folding" in _err(Layout(tp=2, dp=2, ep=4, global_batch=2), experts=8)
    assert _err(Layout(tp=1, dp=32, ep=2, etp=16, global_batch=32), gpus_per_node=8, experts=8).startswith("etp:")


def test_context_parallel_rules():
    check_layout(Layout(cp=16, dp=1, global_batch=1), gpus=16, seq=131072)
    assert _err(Layout(cp=3, global_batch=1), seq=4096).startswith("cp:")
    assert _err(Layout(cp=2, global_batch=1), transformer=False).startswith("cp:")
    assert _err(Layout(cp_comm="ulysses")).startswith("cp_comm:")
    assert _err(Layout(cp=2, dp=4, global_batch=4), gpus=4).startswith("gpus:")


def test_vectorised_expert_and_context_codes_match():
    la = make_arrays(tp=[2, 1, 2, 1, 1, 1], cp=[2, 1, 1, 1, 3, 1], dp=[4, 8, 4, 16, 4, 16],
                     ep=[8, 4, 8, 1, 1, 2], etp=[0, 0, 0, 16, 0, 0], gb=48)
    codes = layout_problems(la, gpus=[16, 8, 8, 16, 12, 16], gpus_per_node=8, experts=24, seq=4096)
    assert [PROBLEMS[c] for c in codes] == ["ok", "ok", "(tp*cp*dp) % (etp*ep)", "etp spans nodes", "seq % (2*cp)", "ok"]
    dense = layout_problems(make_arrays(ep=[1, 2], dp=2, gb=2), gpus=2, gpus_per_node=8)
    assert [PROBLEMS[c] for c in dense] == ["ok", "ep or etp without experts"]
    np.testing.assert_array_equal(la.edp, [1, 2, 1, 1, 12, 8])
    one = as_arrays(Layout(tp=2, cp=2, dp=4, ep=4, global_batch=8))
    assert float(one.edp) == 2 and float(one.etp) == 2
