"""Collective cost on a two-level topology: the Hockney α-β model.

Ring costs (Thakur, Rabenseifner & Gropp 2005; MPICH `allreduce_intra_ring.c`), n = bytes
of the whole buffer, p ranks, α = latency of one ring step, bw = achievable bus bandwidth
(nccl-tests busbw, so its factor 2(p−1)/p or (p−1)/p is applied here, not in bw):

    all-reduce       2(p−1)·α + 2(p−1)/p · n / bw
    all-gather       (p−1)·α  + (p−1)/p  · n / bw      (reduce-scatter: the same)
    point-to-point   α + n / bw

Across nodes the collective is hierarchical (DESIGN.md; NCCL's rings reach the same
bandwidth bound): a group of `p` ranks with `k` on each node of N = p/k nodes does an
intra-node reduce-scatter, an inter-node all-reduce of n/k per rail, and an intra-node
all-gather. The inter-node bandwidth is the GPU's share of its node's rails (every GPU of a
node syncs at the same time in data/pipeline parallelism), divided by the fat-tree
oversubscription once the group spans more nodes than one leaf switch holds. Every
collective also pays NCCL's fixed launch latency `base` (NCCL tuning.cc, see priors.yaml).

NCCL's own ring through all p ranks moves the same bytes over the rails but pipelines the
NVLink and network hops, so its bandwidth term is the slower of the two rather than their sum
(this is why 8×HDR DGX A100 nodes measure ~192 GB/s all-reduce busbw = 8 × 24 GB/s, NVIDIA/
nccl issue 812); its latency has 2(N−1) network steps and the rest NVLink steps (NCCL
tuning.cc). Across nodes the cost is the cheaper of the two algorithms, as NCCL's tuner picks.

`per_gpu_time` is the pessimistic alternative used for blocking ZeRO-3 (see `sharded.py`): every
rank's whole share crosses its own link (the GPU's NIC share between nodes), with no saving from
node peers that need the same bytes.

All functions take floats or numpy arrays and broadcast.
"""

from __future__ import annotations

import numpy as np


def ring_allreduce(nbytes, p, alpha, bw):
    p = np.maximum(p, 1)
    return np.where(p > 1, 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / bw, 0.0)


def ring_allgather(nbytes, p, alpha, bw):
    """All-gather (or reduce-scatter) of a buffer of `nbytes` in total."""
    p = np.maximum(p, 1)
    return np.where(p > 1, (p - 1) * alpha + (p - 1) / p * nbytes / bw, 0.0)


ring_reduce_scatter = ring_allgather


def p2p(nbytes, alpha, bw):
    return alpha + nbytes / bw


def hierarchical_allreduce(nbytes, k, nodes, a_intra, bw_intra, a_inter, bw_inter):
    """Intra reduce-scatter, inter all-reduce of n/k per rail, intra all-gather."""
    k = np.maximum(k, 1)
    intra = 2 * ring_allgather(nbytes, k, a_intra, bw_intra)
    return intra + ring_allreduce(nbytes / k, nodes, a_inter, bw_inter)


def hierarchical_allgather(nbytes, k, nodes, a_intra, bw_intra, a_inter, bw_inter):
    """Inter all-gather of the node's n/k share across nodes, then intra all-gather of n."""
    k = np.maximum(k, 1)
    return ring_allgather(nbytes / k, nodes, a_inter, bw_inter) + ring_allgather(nbytes, k, a_intra, bw_intra)


def pipelined_ring(nbytes, p, k, nodes, a_intra, bw_intra, a_inter, bw_inter, factor: float):
    """NCCL ring over p ranks on `nodes` nodes (k per node): `factor` 2 for all-reduce, 1 for
    all-gather/reduce-scatter; the group's k ranks per node share k per-GPU rail shares."""
    steps, net_steps = factor * (p - 1), factor * (nodes - 1)
    bw = np.minimum(bw_intra, k * bw_inter)
    return net_steps * a_inter + (steps - net_steps) * a_intra + factor * (p - 1) / p * nbytes / bw


def _inter_bw(hc, nodes):
    """Per-GPU scale-out bandwidth, tapered by oversubscription beyond one leaf."""
    spans = (np.asarray(hc.nodes_per_leaf) > 0) & (nodes > hc.nodes_per_leaf)
    return np.where(spans, hc.inter_bw / hc.oversub, hc.inter_bw)


def all_to_all(nbytes, p, k, hc):
    """NCCL all-to-all: p−1 concurrent point-to-point sends per rank, no ring or tree.

    `nbytes` is the whole buffer one rank holds (nccl-tests alltoall: count per peer × p, its own
    chunk included), so a rank sends (p−1)/p of it: (k−1)/p to node peers over the scale-up link
    and (p−k)/p to the other nodes over its share of the node's rails. The two run concurrently.
    Across leaf switches the bytes bound for other leaves also cross the tapered uplinks: a leaf
    holding L nodes sends (p − L·k)/p of every rank's buffer up, at 1/oversubscription of the
    NICs' rate (bisection-limited). Latency: one network step (or one NVLink step inside a node)."""
    p = np.maximum(np.asarray(p, dtype=float), 1.0)
    k = np.clip(k, 1.0, p)
    nodes = np.ceil(p / k)
    t_intra = nbytes * (k - 1) / p / hc.intra_bw
    npl = np.asarray(hc.nodes_per_leaf, dtype=float)
    leaf_nodes = np.where((npl > 0) & (nodes > npl), npl, nodes)
    cross = nbytes * (p - leaf_nodes * k) / p * np.maximum(hc.oversub, 1.0)
    t_inter = np.maximum(nbytes * (p - k) / p, cross) / np.maximum(hc.inter_bw, 1e-30)
    lat = np.where(nodes > 1, hc.alpha_inter, hc.alpha_intra)
    return np.where(p > 1, lat + np.maximum(t_intra, np.where(nodes > 1, t_inter, 0.0)) + hc.base, 0.0)


def group_time(kind: str, nbytes, p, k, hc):
    """Time of one collective `kind` (all_reduce | all_gather | reduce_scatter | all_to_all) over
    a group of `p` ranks placed `k` per node, on hardware constants `hc` (see hardware.HwConsts).
    `nbytes` is the whole buffer (nccl-tests convention: for all-gather the gathered output, for
    all-to-all the buffer one rank sends, its own chunk included)."""
    if kind == "all_to_all":
        return all_to_all(nbytes, p, k, hc)
    p = np.maximum(np.asarray(p, dtype=float), 1.0)
    k = np.clip(k, 1.0, p)
    nodes = np.ceil(p / k)
    bw_inter = np.maximum(_inter_bw(hc, nodes), 1e-30)  # no rails: single node only (layout check)
    links = (hc.alpha_intra, hc.intra_bw, hc.alpha_inter, bw_inter)
    if kind == "all_reduce":
        flat = ring_allreduce(nbytes, p, hc.alpha_intra, hc.intra_bw)
        hier = np.minimum(hierarchical_allreduce(nbytes, k, nodes, *links),
                          pipelined_ring(nbytes, p, k, nodes, *links, factor=2.0))
    elif kind in ("all_gather", "reduce_scatter"):
        flat = ring_allgather(nbytes, p, hc.alpha_intra, hc.intra_bw)
        hier = np.minimum(hierarchical_allgather(nbytes, k, nodes, *links),
                          pipelined_ring(nbytes, p, k, nodes, *links, factor=1.0))
    else:
        raise ValueError(f"unknown collective {kind!r}; known: all_reduce, all_gather, reduce_scatter, all_to_all")
    t = np.where(nodes > 1, hier, flat)
    return np.where(p > 1, t + hc.base, 0.0)


def per_gpu_time(kind: str, nbytes, p, k, hc):
    """A ring collective whose every rank moves its whole (p−1)/p share over its own link: the GPU's
    share of its node's rails across nodes, the scale-up link inside one. Latency as NCCL's ring
    (2(N−1) or N−1 network steps, the rest NVLink steps; NCCL tuning.cc), plus the launch cost."""
    p = np.maximum(np.asarray(p, dtype=float), 1.0)
    nodes = np.ceil(p / np.clip(k, 1.0, p))
    factor = 2.0 if kind == "all_reduce" else 1.0
    bw = np.maximum(np.where(nodes > 1, _inter_bw(hc, nodes), hc.intra_bw), 1e-30)
    steps, net_steps = factor * (p - 1), factor * (nodes - 1)
    latency = net_steps * hc.alpha_inter + (steps - net_steps) * hc.alpha_intra
    t = latency + factor * (p - 1) / p * nbytes / bw
    return np.where(p > 1, t + hc.base, 0.0)


def p2p_time(nbytes, inter_node, hc):
    """One point-to-point message between neighbouring pipeline stages."""
    a = np.where(inter_node, hc.alpha_inter, hc.alpha_intra)
    bw = np.where(inter_node, hc.inter_bw, hc.intra_bw)
    return a + nbytes / np.maximum(bw, 1e-30) + hc.base
