"""Collective cost of a group of ranks on a two-level topology (scale-up inside a node, rails out).

`group_time` prices all-reduce, all-gather and reduce-scatter as NCCL's tuner would run them: the
fastest of its algorithms (ring, tree, NVLS, NVLS-tree) and protocols (LL, LL128, Simple) per
message size (`nccl.py`, tables in `data/nccl_tuning.yaml`). At hundreds of nodes that is a tree
or NVLS-tree whose latency grows with log2(nodes), not a ring whose latency grows with the rank
count. All-to-all is NCCL's point-to-point exchange (`all_to_all`). `nbytes` is always the whole
buffer (nccl-tests convention), `p` ranks placed `k` per node.

Bandwidths are per-GPU bus bandwidths (nccl-tests busbw): `hc.intra_bw` the scale-up ring busbw,
`hc.inter_bw` the GPU's share of its node's rails (every GPU of a node syncs at the same time in
data/pipeline parallelism, so a group with k ranks per node gets k shares). Beyond one leaf
switch the network share is divided by the fat-tree oversubscription, and under load it is the
fraction the fabric's regime delivers at that scale (`_inter_bw`, `regimes.py`: adaptive-routed
InfiniBand, tuned RoCE, RoCE with plain ECMP, NCCL over TCP).

The Hockney α-β ring costs (Thakur, Rabenseifner & Gropp 2005; MPICH `allreduce_intra_ring.c`)
stay for measured single-link fits (`ddp.py`):

    all-reduce       2(p−1)·α + 2(p−1)/p · n / bw
    all-gather       (p−1)·α  + (p−1)/p  · n / bw      (reduce-scatter: the same)
    point-to-point   α + n / bw

`per_gpu_time` is the pessimistic alternative used for blocking ZeRO-3 (see `sharded.py`): every
rank's whole share crosses its own link (the GPU's NIC share between nodes), with no saving from
node peers that need the same bytes.

All functions take floats or numpy arrays and broadcast.
"""

from __future__ import annotations

import math

import numpy as np

from raxlab.predict import nccl, regimes

KINDS = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")


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


def _inter_bw(hc, nodes, kind: str | None = None, p=None, k=None):
    """Per-GPU scale-out bandwidth, tapered by oversubscription beyond one leaf and, for a
    collective `kind` over p ranks (k per node), by the fabric's load regime (`regimes.py`)."""
    if np.ndim(nodes) == 0 and np.ndim(hc.nodes_per_leaf) == 0 and np.ndim(hc.inter_bw) == 0:
        spans = hc.nodes_per_leaf > 0 and nodes > hc.nodes_per_leaf
        bw = hc.inter_bw / hc.oversub if spans else hc.inter_bw
    else:
        spans = (np.asarray(hc.nodes_per_leaf) > 0) & (nodes > hc.nodes_per_leaf)
        bw = np.where(spans, hc.inter_bw / hc.oversub, hc.inter_bw)
    if kind is None:
        return bw
    return bw * regimes.efficiency(kind, getattr(hc, "regime", 0.0), p, k)


def _shape(nbytes, p, k):
    if np.ndim(nbytes) == 0 and np.ndim(p) == 0 and np.ndim(k) == 0:  # a scalar call: plain floats
        pf = max(float(p), 1.0)
        kf = min(max(float(k), 1.0), pf)
        return float(nbytes), pf, kf, float(math.ceil(pf / kf))
    p = np.maximum(np.asarray(p, dtype=float), 1.0)
    k = np.clip(k, 1.0, p)
    return np.asarray(nbytes, dtype=float), p, k, np.ceil(p / k)


def all_to_all(nbytes, p, k, hc):
    """NCCL all-to-all: p−1 concurrent point-to-point sends per rank, no ring or tree.

    `nbytes` is the whole buffer one rank holds (nccl-tests alltoall: count per peer × p, its own
    chunk included), so a rank sends (p−1)/p of it: (k−1)/p to node peers over the scale-up link
    and (p−k)/p to the other nodes over its share of the node's rails. The two run concurrently.
    Across leaf switches the bytes bound for other leaves also cross the tapered uplinks: a leaf
    holding L nodes sends (p − L·k)/p of every rank's buffer up, at 1/oversubscription of the
    NICs' rate (bisection-limited). Latency: one network step (or one NVLink step inside a node).

    A measured all-to-all fit (`hc.a2a_bw` > 0: `rax predict --comm-run` of a run that swept
    all_to_all) replaces the network part's bandwidth and latency: its busbw per GPU, and its
    per-peer α for each of the p−1 peers (the fit's α over its p−1 pairwise exchanges,
    `CommFit.from_collective_fit`), as the all-reduce fit replaces the fabric prior."""
    nbytes, p, k, nodes = _shape(nbytes, p, k)
    measured = np.asarray(getattr(hc, "a2a_bw", 0.0)) > 0
    net_bw = np.where(measured, getattr(hc, "a2a_bw", 0.0), hc.inter_bw)
    net_lat = np.where(measured, (p - 1) * np.asarray(getattr(hc, "a2a_alpha", 0.0)), hc.alpha_inter)
    t_intra = nbytes * (k - 1) / p / hc.intra_bw
    npl = np.asarray(hc.nodes_per_leaf, dtype=float)
    leaf_nodes = np.where((npl > 0) & (nodes > npl), npl, nodes)
    cross = nbytes * (p - leaf_nodes * k) / p * np.maximum(hc.oversub, 1.0)
    net = net_bw * regimes.efficiency("all_to_all", getattr(hc, "regime", 0.0), p, k)
    t_inter = np.maximum(nbytes * (p - k) / p, cross) / np.maximum(net, 1e-30)
    lat = np.where(nodes > 1, net_lat, hc.alpha_intra)
    return np.where(p > 1, lat + np.maximum(t_intra, np.where(nodes > 1, t_inter, 0.0)) + hc.base, 0.0)


def _group(nbytes, p, k, hc, kind: str = "all_reduce") -> nccl.Group:
    nbytes, p, k, nodes = _shape(nbytes, p, k)
    net = k * _inter_bw(hc, nodes, kind, p, k)
    b_net = max(net, 1e-30) if isinstance(net, float) else np.maximum(net, 1e-30)  # no rails: one node only
    return nccl.Group(nbytes, p, k, nodes, hc.intra_bw, b_net)


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown collective {kind!r}; known: {', '.join(KINDS)}")


def group_time(kind: str, nbytes, p, k, hc):
    """Time of one collective `kind` (all_reduce | all_gather | reduce_scatter | all_to_all) over
    a group of `p` ranks placed `k` per node, on hardware constants `hc` (see hardware.HwConsts).
    `nbytes` is the whole buffer (nccl-tests convention: for all-gather the gathered output, for
    all-to-all the buffer one rank sends, its own chunk included)."""
    _check(kind)
    if kind == "all_to_all":
        return all_to_all(nbytes, p, k, hc)
    g = _group(nbytes, p, k, hc, kind)
    if np.ndim(g.p) == 0 and np.ndim(g.n) == 0 and np.ndim(g.b_net) == 0:
        return nccl.best_time(kind, g, hc) if g.p > 1 else 0.0
    return np.where(g.p > 1, nccl.best_time(kind, g, hc), 0.0)


def ring_time(kind: str, nbytes, p, k, hc):
    """The collective with NCCL held to its ring (NCCL_ALGO=Ring, as `rax accept` runs two nodes):
    the fastest ring protocol."""
    _check(kind)
    g = _group(nbytes, p, k, hc, kind)
    t = np.min(np.stack([np.asarray(x, dtype=float) for _, x in nccl.ring(kind, g, hc)]), axis=0)
    return np.where(g.p > 1, t, 0.0)


def group_choice(kind: str, nbytes, p, k, hc):
    """The algorithm/protocol NCCL's model picks (e.g. 'ring/LL128'), per element; 'p2p' for
    all-to-all, 'none' for a single rank."""
    _check(kind)
    g = _group(nbytes, p, k, hc, kind)
    if kind == "all_to_all":
        return np.where(g.p > 1, "p2p", "none")
    _, label = nccl.best(kind, g, hc)
    return np.where(g.p > 1, label, "none")


def busbw(kind: str, nbytes, p, k, hc, ring_only: bool = False):
    """The nccl-tests bus bandwidth (B/s) `group_time` (or `ring_time`) implies: algbw × 2(p−1)/p
    for all-reduce, × (p−1)/p for the others (nccl-tests doc/PERFORMANCE.md)."""
    nbytes, pp, _, _ = _shape(nbytes, p, k)
    t = (ring_time if ring_only and kind != "all_to_all" else group_time)(kind, nbytes, p, k, hc)
    factor = 2 * (pp - 1) / pp if kind == "all_reduce" else (pp - 1) / pp
    return np.where(t > 0, nbytes / np.where(t > 0, t, 1.0) * factor, 0.0)


def per_gpu_time(kind: str, nbytes, p, k, hc):
    """A ring collective whose every rank moves its whole (p−1)/p share over its own link: the GPU's
    share of its node's rails across nodes, the scale-up link inside one. Latency as NCCL's ring
    (2(N−1) or N−1 network steps, the rest NVLink steps; NCCL tuning.cc), plus the launch cost."""
    p = np.maximum(np.asarray(p, dtype=float), 1.0)
    nodes = np.ceil(p / np.clip(k, 1.0, p))
    factor = 2.0 if kind == "all_reduce" else 1.0
    bw = np.maximum(np.where(nodes > 1, _inter_bw(hc, nodes, kind, p, k), hc.intra_bw), 1e-30)
    steps, net_steps = factor * (p - 1), factor * (nodes - 1)
    latency = net_steps * hc.alpha_inter + (steps - net_steps) * hc.alpha_intra
    t = latency + factor * (p - 1) / p * nbytes / bw
    return np.where(p > 1, t + hc.base, 0.0)


def p2p_time(nbytes, inter_node, hc):
    """One point-to-point message between neighbouring pipeline stages."""
    a = np.where(inter_node, hc.alpha_inter, hc.alpha_intra)
    bw = np.where(inter_node, hc.inter_bw, hc.intra_bw)
    return a + nbytes / np.maximum(bw, 1e-30) + hc.base
