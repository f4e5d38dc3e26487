"""Collective costs against hand-computed values: the α-β ring formulas (Thakur, Rabenseifner &
Gropp 2005) and NCCL's algorithm/protocol choice from its tuning tables (data/nccl_tuning.yaml)."""

from types import SimpleNamespace

import numpy as np
import pytest

from raxlab.predict import collectives as c
from raxlab.predict import nccl


def test_ring_allreduce_by_hand():
    # 2(p-1)α + 2(p-1)/p · n/bw with n = 1 GB, p = 8, α = 10 µs, bw = 100 GB/s
    assert float(c.ring_allreduce(1e9, 8, 1e-5, 1e11)) == pytest.approx(14e-5 + 2 * 7 / 8 * 1e-2)


def test_ring_allgather_and_reduce_scatter_by_hand():
    assert float(c.ring_allgather(1e9, 8, 1e-5, 1e11)) == pytest.approx(7e-5 + 7 / 8 * 1e-2)
    assert float(c.ring_reduce_scatter(1e9, 8, 1e-5, 1e11)) == float(c.ring_allgather(1e9, 8, 1e-5, 1e11))


def test_single_rank_costs_nothing():
    assert float(c.ring_allreduce(1e9, 1, 1e-5, 1e11)) == 0.0


US = 1e-6


def _hc(**kw):
    """Hardware constants whose α are NCCL's own Simple ring steps (NVLink 3.4 µs, network 14 µs),
    so the tables apply unshifted."""
    base = dict(alpha_intra=3.4 * US, alpha_inter=14 * US, intra_bw=200e9, inter_bw=25e9, base=8.4 * US, g=8,
                oversub=1.0, nodes_per_leaf=0, intra_pci=0.0, nvls_eff=0.0, ll128_intra=1.0, ll128_net=1.0,
                ll_max_1=87.7e9, cpu_amd=0.0)
    return SimpleNamespace(**{**base, **kw})


def test_small_message_in_one_node_picks_ring_ll():
    # ring/LL: 6.6 + 14 steps x 0.6 us = 15.0 us at min(llMaxBw 87.7, 0.5 x 200) x 8/14 GB/s;
    # tree/LL 6.8 + 2 x 7 x 0.6 = 15.2 us; LL128 40.6 us; Simple 8.4 + 14 x 3.4 = 56 us
    hc = _hc()
    assert str(c.group_choice("all_reduce", 1024, 8, 8, hc)) == "ring/LL"
    t = float(c.group_time("all_reduce", 1024, 8, 8, hc))
    assert t == pytest.approx(15.0 * US + 1024 / (87.7e9 * 8 / 14))


def test_large_message_in_one_node_picks_ring_simple():
    # Simple: 56 us + 1 GB / (200 x 8/14 GB/s) = 8.806 ms; LL128 at 0.92 of it: 9.55 ms;
    # tree/Simple at 0.92 x 0.5 x 0.9 (size correction) of 200 GB/s: 12.1 ms
    hc = _hc()
    assert str(c.group_choice("all_reduce", 1e9, 8, 8, hc)) == "ring/Simple"
    assert float(c.group_time("all_reduce", 1e9, 8, 8, hc)) == pytest.approx(56 * US + 1e9 / (200e9 * 8 / 14))


def test_nvswitch_with_nvls_picks_nvls_for_large_messages():
    # NVLS: 25 us + 1 GB / (200 x 0.85 x 8/9 GB/s) beats the ring's 8.8 ms
    hc = _hc(nvls_eff=0.85)
    assert str(c.group_choice("all_reduce", 1e9, 8, 8, hc)) == "nvls/Simple"
    assert float(c.group_time("all_reduce", 1e9, 8, 8, hc)) == pytest.approx(25 * US + 1e9 / (200e9 * 0.85 * 8 / 9))
    assert str(c.group_choice("all_reduce", 1024, 8, 8, hc)) == "ring/LL"  # latency still rules small ones


def test_ring_latency_at_scale_by_hand_and_the_tree_wins():
    # 256 nodes x 8: ring/Simple = (8.4 + (4094 - 510) x 3.4 + 510 x 14) us x 1.4 (plateau)
    # + 1 GB at min(200, 8 x 25) x 2048/4094 GB/s; the tree's latency has only log2(256) network steps
    hc = _hc()
    g = c._group(1e9, 2048, 8, hc)
    ring = dict(nccl.ring("all_reduce", g, hc))
    lat = (8.4 + 3584 * 3.4 + 510 * 14) * 1.4 * US
    assert float(ring["ring/Simple"]) == pytest.approx(lat + 1e9 / (200e9 * 2048 / 4094))
    tree = dict(nccl.tree(g, hc))
    assert float(tree["tree/Simple"]) == pytest.approx((8.4 + 2 * (7 * 4.0 + 8 * 14)) * US + 1e9 / (184e9 * 0.5 * 0.9))
    assert str(c.group_choice("all_reduce", 1e9, 2048, 8, hc)).startswith("tree/")
    assert float(c.group_time("all_reduce", 1e9, 2048, 8, hc)) < float(ring["ring/Simple"]) / 2


def test_two_node_tree_can_exceed_the_nics():
    # at two nodes each byte crosses the NICs once (twice at three or more): the tree's busbw bound is
    # 0.92 x min(NVLink 200, 2 x 100 GB/s of rails), above the rails' own 100 GB/s
    hc = _hc(inter_bw=12.5e9)  # 8 x 12.5 = 100 GB/s of rails per node
    bw = float(c.busbw("all_reduce", 8e9, 16, 8, hc))
    assert bw > 100e9 and str(c.group_choice("all_reduce", 8e9, 16, 8, hc)).startswith("tree/")


def test_nvls_tree_across_nodes_is_bound_by_half_the_rails():
    # 64 nodes: min(NVLS 200 x 0.85 x 8/9, rails 8 x 25 / 2) = 100 GB/s, latency 25 + 2 x 6 x 20.9 us;
    # the ring moves as much (200 x 512/1022) but pays 6.8 ms of latency
    hc = _hc(nvls_eff=0.85)
    t = float(c.group_time("all_reduce", 8e9, 512, 8, hc))
    assert str(c.group_choice("all_reduce", 8e9, 512, 8, hc)) == "nvls_tree/Simple"
    assert t == pytest.approx((25 + 2 * 6 * 20.9) * US + 8e9 / (8 * 25e9 * 0.5))


def test_ll128_needs_a_gpudirect_fabric_across_nodes():
    g_args = (4e6, 32, 8)
    tcp = dict(nccl.ring("all_reduce", c._group(*g_args, _hc(ll128_net=0.0)), _hc(ll128_net=0.0)))
    rdma = dict(nccl.ring("all_reduce", c._group(*g_args, _hc()), _hc()))
    assert np.isinf(float(tcp["ring/LL128"])) and np.isfinite(float(rdma["ring/LL128"]))


def test_pcie_scale_up_uses_nccl_pci_latencies():
    # 8 GPUs on PCIe: ring/Simple latency 8.4 + 14 x 5.7 us
    hc = _hc(intra_pci=1.0, alpha_intra=5.7 * US, ll128_intra=0.0)
    g = c._group(1e9, 8, 8, hc)
    ring = dict(nccl.ring("all_reduce", g, hc))
    assert float(ring["ring/Simple"]) == pytest.approx((8.4 + 14 * 5.7) * US + 1e9 / (200e9 * 8 / 14))
    assert np.isinf(float(ring["ring/LL128"]))


def test_a_measured_alpha_shifts_every_network_step():
    # alpha_inter 20 us instead of NCCL's 14: each of the 2 x 3 network steps of a 4-node ring costs 6 us more
    g = c._group(1e9, 32, 8, _hc())
    base = dict(nccl.ring("all_reduce", g, _hc()))
    slow = dict(nccl.ring("all_reduce", g, _hc(alpha_inter=20 * US)))
    assert float(slow["ring/LL"]) - float(base["ring/LL"]) == pytest.approx(6 * 6 * US)


def test_all_gather_and_reduce_scatter_use_rings_only():
    for kind in ("all_gather", "reduce_scatter"):
        labels = np.atleast_1d(c.group_choice(kind, np.array([1e3, 1e6, 1e9]), 64, 8, _hc(nvls_eff=0.85)))
        assert all(str(x).startswith("ring/") for x in labels)
    t = c.group_time("all_gather", 0.0, 8, 8, _hc())
    assert float(t) == pytest.approx((6.6 + 7 * 0.6) * US)  # LL: base + 7 NVLink steps


def test_oversubscription_never_makes_a_collective_faster():
    sizes = np.array([1e4, 1e6, 1e8, 1e10])
    for kind in ("all_reduce", "all_gather", "all_to_all"):
        prev = None
        for r in (1.0, 1.5, 2.0, 4.0, 8.0):
            t = np.asarray(c.group_time(kind, sizes, 512, 8, _hc(oversub=r, nodes_per_leaf=16, nvls_eff=0.85)))
            if prev is not None:
                assert np.all(t >= prev - 1e-15)
            prev = t


def test_unknown_collective_is_an_error():
    with pytest.raises(ValueError):
        c.group_time("broadcast", 1.0, 2, 2, _hc())


def test_all_to_all_inside_a_node_uses_nvlink_only():
    # 8 ranks on one node, 8 GB buffer each: 7/8 of it leaves the rank over NVLink at 200 GB/s
    t = c.group_time("all_to_all", 8e9, 8, 8, _hc(alpha_intra=1e-6, base=2e-6, alpha_inter=0.0))
    assert float(t) == pytest.approx(1e-6 + 7 / 8 * 8e9 / 200e9 + 2e-6)


def test_all_to_all_across_nodes_is_bound_by_the_slower_of_nvlink_and_rails():
    # 32 ranks on 4 nodes: 7/32 of the buffer over NVLink at 200 GB/s (8.75 ms),
    # 24/32 over the rails at 25 GB/s per GPU; they overlap, the rails dominate
    t = float(c.group_time("all_to_all", 8e9, 32, 8, _hc(alpha_inter=1e-5, base=0.0)))
    assert t == pytest.approx(1e-5 + 24 / 32 * 8e9 / 25e9)


def test_all_to_all_beyond_a_leaf_is_bisection_limited():
    # 8 nodes, 2 per leaf, 4:1 taper: 48 of 64 peers' bytes leave the leaf at a quarter of the NIC rate
    hc = _hc(oversub=4.0, nodes_per_leaf=2, alpha_inter=0.0, base=0.0)
    t = float(c.group_time("all_to_all", 8e9, 64, 8, hc))
    assert t == pytest.approx(48 / 64 * 8e9 * 4.0 / 25e9)
    flat = float(c.group_time("all_to_all", 8e9, 64, 8, _hc(alpha_inter=0.0, base=0.0)))
    assert flat == pytest.approx(56 / 64 * 8e9 / 25e9) and flat < t
