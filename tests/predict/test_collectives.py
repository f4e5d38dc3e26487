"""α-β collective costs against hand-computed values (Thakur, Rabenseifner & Gropp 2005)."""

from types import SimpleNamespace

import pytest

from raxlab.predict import collectives as c


def test_ring_allreduce_by_hand():
    # 2(p-1)α + 2(p-1)/p · n/bw with n = 1 GB, p = 8, α = 10 µs, bw = 100 GB/s
    assert float(c.ring_allreduce(1e9, 8, 1e-5, 1e11)) == pytest.approx(14e-5 + 2 * 7 / 8 * 1e-2)


def test_ring_allgather_and_reduce_scatter_by_hand():
    assert float(c.ring_allgather(1e9, 8, 1e-5, 1e11)) == pytest.approx(7e-5 + 7 / 8 * 1e-2)
    assert float(c.ring_reduce_scatter(1e9, 8, 1e-5, 1e11)) == float(c.ring_allgather(1e9, 8, 1e-5, 1e11))


def test_single_rank_costs_nothing():
    assert float(c.ring_allreduce(1e9, 1, 1e-5, 1e11)) == 0.0


def test_hierarchical_allreduce_by_hand():
    # 4 nodes x 8 GPUs, 8 GB: intra RS + AG = 2 x 7/8 x 8e9 / 200e9 = 0.07 s;
    # inter AR of 8e9/8 = 1 GB over 4 nodes at 25 GB/s per GPU: 2 x 3/4 x 1e9/25e9 = 0.06 s
    t = c.hierarchical_allreduce(8e9, 8, 4, 0.0, 200e9, 0.0, 25e9)
    assert float(t) == pytest.approx(0.13)


def _hc(**kw):
    base = dict(alpha_intra=0.0, alpha_inter=0.0, intra_bw=200e9, inter_bw=25e9, base=0.0, g=8,
                oversub=1.0, nodes_per_leaf=0)
    return SimpleNamespace(**{**base, **kw})


def test_pipelined_ring_by_hand():
    # 32 ranks on 4 nodes: bandwidth = min(NVLink 200, 8 GPUs x 25 GB/s rails) = 200 GB/s;
    # latency: 2 x 3 network steps + (62 - 6) NVLink steps
    t = c.pipelined_ring(8e9, 32, 8, 4, 1e-6, 200e9, 1e-5, 25e9, factor=2.0)
    assert float(t) == pytest.approx(6 * 1e-5 + 56 * 1e-6 + 2 * 31 / 32 * 8e9 / 200e9)


def test_group_time_flat_inside_a_node_and_best_of_two_across():
    inside = c.group_time("all_reduce", 8e9, 8, 8, _hc())
    assert float(inside) == pytest.approx(2 * 7 / 8 * 8e9 / 200e9)
    across = c.group_time("all_reduce", 8e9, 32, 8, _hc())
    assert float(across) == pytest.approx(2 * 31 / 32 * 8e9 / 200e9)  # the ring beats 0.13 s hierarchical
    slow_nvlink = c.group_time("all_reduce", 8e9, 32, 8, _hc(intra_bw=50e9))
    hier = 2 * 7 / 8 * 8e9 / 50e9 + 2 * 3 / 4 * 1e9 / 25e9
    assert float(slow_nvlink) == pytest.approx(min(hier, 2 * 31 / 32 * 8e9 / 50e9))


def test_oversubscription_slows_only_groups_beyond_a_leaf():
    fast = float(c.group_time("all_reduce", 8e9, 32, 8, _hc(oversub=3.0, nodes_per_leaf=4)))
    slow = float(c.group_time("all_reduce", 8e9, 64, 8, _hc(oversub=3.0, nodes_per_leaf=4)))
    assert fast == pytest.approx(2 * 31 / 32 * 8e9 / 200e9)  # 4 nodes fit under one leaf
    assert slow == pytest.approx(2 * 63 / 64 * 8e9 / (8 * 25e9 / 3))


def test_latency_term_counts_ring_steps():
    t = c.group_time("all_gather", 0.0, 8, 8, _hc(alpha_intra=2e-6, base=5e-6))
    assert float(t) == pytest.approx(7 * 2e-6 + 5e-6)


def test_unknown_collective_is_an_error():
    with pytest.raises(ValueError):
        c.group_time("broadcast", 1.0, 2, 2, _hc())


def test_all_to_all_inside_a_node_uses_nvlink_only():
    # 8 ranks on one node, 8 GB buffer each: 7/8 of it leaves the rank over NVLink at 200 GB/s
    t = c.group_time("all_to_all", 8e9, 8, 8, _hc(alpha_intra=1e-6, base=2e-6))
    assert float(t) == pytest.approx(1e-6 + 7 / 8 * 8e9 / 200e9 + 2e-6)


def test_all_to_all_across_nodes_is_bound_by_the_slower_of_nvlink_and_rails():
    # 32 ranks on 4 nodes: 7/32 of the buffer over NVLink at 200 GB/s (8.75 ms),
    # 24/32 over the rails at 25 GB/s per GPU; they overlap, the rails dominate
    t = float(c.group_time("all_to_all", 8e9, 32, 8, _hc(alpha_inter=1e-5)))
    assert t == pytest.approx(1e-5 + 24 / 32 * 8e9 / 25e9)


def test_all_to_all_beyond_a_leaf_is_bisection_limited():
    # 8 nodes, 2 per leaf, 4:1 taper: 48 of 64 peers' bytes leave the leaf at a quarter of the NIC rate
    hc = _hc(oversub=4.0, nodes_per_leaf=2)
    t = float(c.group_time("all_to_all", 8e9, 64, 8, hc))
    assert t == pytest.approx(48 / 64 * 8e9 * 4.0 / 25e9)
    flat = float(c.group_time("all_to_all", 8e9, 64, 8, _hc()))
    assert flat == pytest.approx(56 / 64 * 8e9 / 25e9) and flat < t
