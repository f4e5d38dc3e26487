"""The layout search over expert and context parallelism: it covers EP and CP, agrees with a brute
force over the same grid, and reports the exposed all-to-all share."""

import numpy as np
import pytest

from raxlab.plan.search import Model, layout_grid, search
from raxlab.plan.space import SpaceOptions, build_space
from raxlab.predict.shape import MoEShape, TransformerShape
from raxlab.predict.vectorized import candidate_grid, evaluate_training

# Mixtral-8x7B-shaped (Jiang et al. 2024, Table 1) at 4K tokens
MOE = TransformerShape(hidden=4096, layers=32, heads=32, kv_heads=8, ffn=14336, vocab=32000, seq=4096,
                       gated_mlp=True, tied_embeddings=False,
                       moe=MoEShape(experts=8, top_k=2, expert_ffn=14336, moe_layers=32))
LONG = TransformerShape(hidden=4096, layers=32, heads=32, kv_heads=8, ffn=14336, vocab=128256, seq=65536,
                        gated_mlp=True, tied_embeddings=False)


def _model(shape, gb):
    return Model(shape, True, gb, (1, 2), heads=shape.heads, kv_heads=shape.kv, layers=shape.layers, seq=shape.seq,
                 experts=shape.moe.experts if shape.moe else None)


def _rows(la, cols):
    return sorted(map(tuple, np.stack([getattr(la, c) for c in cols]).T))


def test_grids_cover_ep_for_moe_and_cp_for_long_sequences():
    cols = ("tp", "pp", "dp", "mb", "recompute", "zero", "ep", "etp", "cp")
    a = layout_grid(64, 8, 256, (1, 2, 4, 8), experts=8, seq=4096)
    b = candidate_grid(gpus=64, gpus_per_node=8, global_batch=256, experts=8, seq=4096)
    assert _rows(a, cols) == _rows(b, cols)
    assert set(a.ep) == {1, 2, 4, 8} and set(a.cp) == {1}  # EP divides the 8 experts; 4K needs no CP
    long = layout_grid(64, 8, 64, (1,), seq=65536)
    assert set(long.cp) == {1, 2, 4, 8, 16, 32} and set(long.ep) == {1}
    dense = layout_grid(64, 8, 256, (1,), seq=4096)
    assert set(dense.ep) == {1} and set(dense.cp) == {1}


@pytest.fixture(scope="module")
def moe_result(catalog):
    opts = SpaceOptions(accelerators=("h100-sxm",), fabrics=("ib-ndr", "tcp-25"), max_nodes=8)
    space = build_space(catalog, ["bf16"], opts)
    return space, search(space, {"bf16": _model(MOE, 256)})


def test_moe_search_matches_brute_force_and_reports_all_to_all(moe_result):
    space, res = moe_result
    assert len(res) > 0
    for i in range(len(res)):
        b, v = space.bases[int(res.cols["base"][i])], res.variants[int(res.cols["variant"][i])]
        gpus = int(res.cols["gpus"][i])
        la = candidate_grid(gpus=gpus, gpus_per_node=b.g, global_batch=256, micro_batches=(1, 2), experts=8, seq=4096)
        out = evaluate_training(MOE, b.consts(v), la, gpus=gpus, mem_bytes=b.hw.mem_bytes)
        best = float(np.min(np.where(out["ok"], out["step_time_s"], np.inf)))
        assert res.cols["step_time_s"][i] <= best * 1.01
        assert 0.0 <= res.cols["a2a_s"][i] <= res.cols["net_comm_s"][i] + res.cols["comm_s"][i]


def test_long_context_search_matches_brute_force_over_cp(catalog):
    opts = SpaceOptions(accelerators=("h100-sxm",), fabrics=("ib-ndr",), max_nodes=2)
    space = build_space(catalog, ["bf16"], opts)
    res = search(space, {"bf16": _model(LONG, 16)})
    for i in range(len(res)):
        b, v = space.bases[int(res.cols["base"][i])], res.variants[int(res.cols["variant"][i])]
        gpus = int(res.cols["gpus"][i])
        la = candidate_grid(gpus=gpus, gpus_per_node=b.g, global_batch=16, micro_batches=(1, 2), seq=LONG.seq)
        assert set(la.cp) > {1}
        out = evaluate_training(LONG, b.consts(v), la, gpus=gpus, mem_bytes=b.hw.mem_bytes)
        assert res.cols["step_time_s"][i] <= float(np.min(np.where(out["ok"], out["step_time_s"], np.inf))) * 1.01
