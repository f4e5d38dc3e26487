"""Expert parallelism: routed-expert compute, all-to-all on the topology, expert-sharded memory,
routing imbalance, MoE inference; the dense core is unchanged for dense shapes."""

import dataclasses

import numpy as np
import pytest

from raxlab.errors import RaxError
from raxlab.predict import moe
from raxlab.predict.api import predict_inference, predict_training
from raxlab.predict.collectives import group_time
from raxlab.predict.hardware import hw_consts
from raxlab.predict.inference import decode_weight_params, experts_touched, kv_bytes_per_token_gpu
from raxlab.predict.layout import Layout, as_arrays
from raxlab.predict.shape import MLAShape, MoEShape, TransformerShape

# Mixtral 8x7B (Jiang et al. 2024, Table 1) and a DeepSeek-V3-shaped model (arXiv:2412.19437 §4.2)
MIXTRAL = TransformerShape(hidden=4096, layers=32, heads=32, kv_heads=8, ffn=14336, vocab=32000, seq=4096,
                           gated_mlp=True, tied_embeddings=False,
                           moe=MoEShape(experts=8, top_k=2, expert_ffn=14336, moe_layers=32))
DSV3 = TransformerShape(hidden=7168, layers=61, heads=128, ffn=18432, vocab=129280, seq=4096, gated_mlp=True,
                        tied_embeddings=False,
                        moe=MoEShape(experts=256, top_k=8, expert_ffn=2048, moe_layers=58, shared_experts=1,
                                     shared_ffn=2048),
                        mla=MLAShape(kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
                                     q_lora_rank=1536))


def test_published_totals_and_active_parameters():
    assert DSV3.params == pytest.approx(671e9, rel=0.01) and DSV3.active_params == pytest.approx(37e9, rel=0.03)
    assert MIXTRAL.params == pytest.approx(46.7e9, rel=0.01) and MIXTRAL.active_params == pytest.approx(12.9e9, rel=0.01)
    # FLOPs follow the active parameters: 2 x active weights per token and block, forward
    assert MIXTRAL.layer_matmul_flops_per_token() == 2 * MIXTRAL.active_block_params / 32


def test_dense_view_keeps_everything_but_the_routed_experts():
    dv = DSV3.dense_view()
    assert dv.moe is None and dv.params == pytest.approx(DSV3.params - DSV3.expert_block_params)
    assert DSV3.dense_view().attn_params == DSV3.attn_params


def test_a2a_volume_on_one_node_is_the_token_copies(h100_ib):
    hc = hw_consts(h100_ib, "bf16")
    la = as_arrays(Layout(dp=8, ep=8, global_batch=8))
    one = float(moe.a2a_time(MIXTRAL, la, hc, 1.0))
    copies = 4096 * 2  # tokens x top-2 per micro-batch on one GPU
    assert one == pytest.approx(float(group_time("all_to_all", copies * 4096 * 2.0, 8, 8, hc)))
    # the busiest rank moves imbalance x as much; without EP there is no all-to-all
    assert float(moe.a2a_time(MIXTRAL, la, hc, 1.5)) > one
    assert float(moe.a2a_time(MIXTRAL, as_arrays(Layout(dp=8, global_batch=8)), hc, 1.0)) == 0.0


def test_a2a_across_nodes_costs_more_and_depends_on_the_fabric(catalog):
    from raxlab.predict.adapter import hardware_from_catalog

    lay = Layout(dp=64, ep=64, global_batch=64)
    times = {}
    for fabric in ("ib-ndr", "roce-100"):
        hw = hardware_from_catalog(catalog, gpu="h100-sxm", fabric=fabric)[0]
        times[fabric] = predict_training(DSV3, hw, lay).terms["ep_all_to_all"]
    intra = predict_training(DSV3, hardware_from_catalog(catalog, gpu="h100-sxm", fabric="ib-ndr")[0],
                             Layout(dp=64, ep=8, global_batch=64)).terms["ep_all_to_all"]
    assert intra < times["ib-ndr"] < times["roce-100"]


def test_expert_compute_scales_with_imbalance_not_with_ep(h100_ib):
    base = predict_training(MIXTRAL, h100_ib, Layout(dp=8, ep=8, global_batch=64), moe_imbalance=1.0).terms
    worse = predict_training(MIXTRAL, h100_ib, Layout(dp=8, ep=8, global_batch=64), moe_imbalance=2.0).terms
    assert worse["expert_compute"] == pytest.approx(2 * base["expert_compute"], rel=0.1)
    wide = predict_training(MIXTRAL, h100_ib, Layout(dp=8, ep=4, global_batch=64), moe_imbalance=1.0).terms
    assert wide["expert_compute"] == pytest.approx(base["expert_compute"], rel=0.1)  # same FLOPs per GPU


def test_small_expert_gemms_lose_efficiency(h100_ib):
    """Fine-grained experts see few tokens each: DeepSeek-V3 at EP 1 gives each of 256 experts 128 rows
    of a 4096-token micro-batch (top-8), at EP 64 each of its 4 local experts 8192; the grouped GEMM
    of the small case runs well below the large one (tile/wave quantization, pipeline fill)."""
    hc = hw_consts(h100_ib, "bf16")

    def achieved(rows, experts):
        t = float(moe._grouped(rows, 2 * 2048, 7168, experts, hc))
        return 2 * rows * experts * 2 * 2048 * 7168 / t

    assert achieved(128, 256) < 0.85 * achieved(8192, 4)
    assert achieved(8192, 4) <= float(hc.peak * hc.eff_mm)


def test_overlap_flag_hides_all_to_all(h100_ib):
    lay = Layout(dp=32, ep=32, global_batch=64)
    inline = predict_training(DSV3, h100_ib, lay).terms["ep_all_to_all"]
    hidden = predict_training(DSV3, h100_ib, dataclasses.replace(lay, moe_overlap=True)).terms["ep_all_to_all"]
    assert 0 <= hidden < inline


def test_experts_are_sharded_over_ep_and_their_states_over_edp(h100_ib):
    one = predict_training(MIXTRAL, h100_ib, Layout(dp=8, global_batch=8, zero=1)).memory_gib
    ep8 = predict_training(MIXTRAL, h100_ib, Layout(dp=8, ep=8, global_batch=8, zero=1)).memory_gib
    assert ep8["expert_weights"] == pytest.approx(one["expert_weights"] / 8)
    assert one["expert_optimizer"] == pytest.approx(one["expert_weights"] * 6 / 8)  # 12 B over EDP 8 vs 2 B
    assert ep8["expert_optimizer"] == pytest.approx(ep8["expert_weights"] * 6)  # EDP 1: nothing to shard
    assert ep8["weights"] == pytest.approx(one["weights"])  # the dense part is replicated either way


def test_layout_checks_use_the_expert_count(h100_ib):
    with pytest.raises(RaxError, match="ep:"):
        predict_training(MIXTRAL, h100_ib, Layout(dp=16, ep=16, global_batch=16))
    with pytest.raises(RaxError, match="imbalance"):
        predict_training(MIXTRAL, h100_ib, Layout(dp=8, ep=8, global_batch=8), moe_imbalance=0.5)


def test_dense_projection_has_no_moe_terms(llama70, h100_ib):
    t = predict_training(llama70, h100_ib, Layout(tp=8, dp=1, global_batch=8)).terms
    assert not {"expert_compute", "ep_all_to_all", "cp_comm"} & set(t)


def test_decode_reads_the_touched_experts_but_all_are_resident(h100_ib):
    assert float(experts_touched(DSV3, 1)) == 8
    assert float(experts_touched(DSV3, 10_000)) == pytest.approx(256)
    assert decode_weight_params(DSV3, 1) == pytest.approx(DSV3.active_params + 129280 * 7168 * 0, rel=0.03)
    out = predict_inference(DSV3, h100_ib, tp=8, batches=(1, 256), prompt=1024, gen=128, precision="fp8")
    small, big = out["per_batch"]
    assert small["memory_per_gpu_gib"] > 671e9 / 8 / 2**30  # every expert resident, 1 byte each
    assert small["tpot_s"] < big["tpot_s"]


def test_mla_kv_cache_is_the_latent_whole_on_every_rank():
    assert DSV3.kv_cache_bytes_per_token(2) == 61 * (512 + 64) * 2
    assert float(kv_bytes_per_token_gpu(DSV3, 8, 2)) == DSV3.kv_cache_bytes_per_token(2)
    gqa = TransformerShape(hidden=8192, layers=80, heads=64, kv_heads=8, ffn=28672, vocab=128256, seq=8192)
    assert float(kv_bytes_per_token_gpu(gqa, 8, 2)) == pytest.approx(gqa.kv_cache_bytes_per_token(2) / 8)
    assert np.isclose(gqa.kv_cache_bytes_per_token(2), 2 * 80 * 8 * 128 * 2)


def test_rank_imbalance_is_one_at_ep_1_and_the_expert_factor_at_one_expert_per_rank():
    one, full = as_arrays(Layout(dp=8, global_batch=8)), as_arrays(Layout(dp=8, ep=8, global_batch=8))
    assert float(moe.rank_imbalance(MIXTRAL, one, 1.25)) == 1.0
    assert float(moe.rank_imbalance(MIXTRAL, full, 1.25)) == pytest.approx(1.25)
    half = as_arrays(Layout(dp=64, ep=64, global_batch=64))
    # 4 of 256 experts per rank: the excess shrinks by sqrt((1 - 4/256) / (4 (1 - 1/256)))
    assert float(moe.rank_imbalance(DSV3, half, 1.25)) == pytest.approx(1 + 0.25 * ((252 / 256) / (4 * 255 / 256)) ** 0.5)


def test_hierarchical_dispatch_sends_one_copy_per_remote_node(catalog):
    from raxlab.predict.adapter import hardware_from_catalog

    hw = hardware_from_catalog(catalog, gpu="h100-sxm", fabric="roce-100")[0]
    hc = hw_consts(hw, "bf16")
    lay = Layout(dp=64, ep=64, global_batch=64)
    flat = float(moe.a2a_time(DSV3, as_arrays(lay), hc, 1.0))
    hier = float(moe.a2a_time(DSV3, as_arrays(dataclasses.replace(lay, ep_dispatch="hierarchical")), hc, 1.0))
    # 8 nodes, top-8: ~5.3 distinct nodes per token, 4.6 of them remote, against 7 remote copies
    nodes, k = 8, 8
    remote = nodes * (1 - (1 - 1 / nodes) ** k) * (nodes - 1) / nodes
    assert hier < flat
    assert hier == pytest.approx(flat * remote / (k * 56 / 64), rel=0.25)  # scale-out bound both ways
    one_node = dataclasses.replace(lay, ep=8, ep_dispatch="hierarchical")
    assert float(moe.a2a_time(DSV3, as_arrays(one_node), hc, 1.0)) == float(
        moe.a2a_time(DSV3, as_arrays(dataclasses.replace(one_node, ep_dispatch="alltoall")), hc, 1.0))


def test_expert_tp_moves_k_times_the_token_copies(h100_ib):
    hc = hw_consts(h100_ib, "bf16")
    la = as_arrays(Layout(tp=8, dp=1, global_batch=1, sequence_parallel=True))  # ETP = TP = 8, EP 1
    t = float(moe.etp_time(DSV3, la, hc, 1.0))
    gathered = 8 * (4096 / 8) * 8 * 7168 * 2.0  # 8 ranks x their 512 tokens x top-8 copies x h, 16 bit
    one = float(group_time("all_gather", gathered, 8, 8, hc) + group_time("reduce_scatter", gathered, 8, 8, hc))
    assert t == pytest.approx(2 * one)
    assert float(moe.etp_time(DSV3, as_arrays(Layout(tp=8, etp=1, ep=8, dp=1, global_batch=1)), hc, 1.0)) == 0.0
