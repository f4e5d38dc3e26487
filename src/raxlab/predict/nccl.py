"""NCCL's algorithm and protocol choice as a cost model, on the physical bandwidths of the hardware.

For every call NCCL's tuner prices each (algorithm, protocol) pair as latency + bytes /
algorithm bandwidth and runs the fastest (NVIDIA/nccl src/graph/tuning.cc `ncclTopoGetAlgoTime`;
the tables are data in `data/nccl_tuning.yaml`). This module does the same over the pairs that
matter for training traffic:

    ring       all-reduce, all-gather, reduce-scatter     LL, LL128, Simple
    tree       all-reduce (double binary tree)            LL, LL128, Simple
    nvls       all-reduce inside one NVSwitch node        Simple (Hopper and later)
    nvls_tree  all-reduce across NVSwitch nodes            Simple (NVLS inside, tree between nodes)

Bandwidths are bus bandwidths per GPU: `B_intra` the scale-up ring busbw prior, `B_net` the
group's share of its node's rails (k ranks of the group per node use k per-GPU rail shares; the
caller applies oversubscription and the fabric's regime). What each algorithm can move:

- ring: min(B_intra, B_net) (NVLink and network hops are pipelined, so the slower bounds it; one
  node: B_intra); algorithm bandwidth = busbw · p / nsteps (NCCL), so t ≈ 2(p−1)/p · n / busbw;
- tree: every node sends and receives each byte twice over its NICs at three nodes or more (up
  and down both trees), once at two nodes: algbw = 0.5 · 0.92 · min(B_intra, B_net · (2 at two
  nodes else 1)) (NCCL: busBw × 0.92, × 0.5 to algorithm bandwidth), times the size correction;
- nvls: NVSwitch multicast moves n(1 + 1/k) per GPU per direction (sjeaugey, NVIDIA/nccl-tests
  #239: algbw = wire busbw · k/(k+1)), at NCCL's NVLS efficiency of the scale-up ring bandwidth:
  algbw = B_intra · eff · k/(k+1);
- nvls_tree: min(the NVLS bound, B_net at two nodes, B_net / 2 beyond; NCCL halves bwInter for
  NVLSTree beyond two nodes).

Latencies follow NCCL's formulas with its tables; `alpha_intra` / `alpha_inter` of the hardware
(one Simple ring step on the scale-up link / the network, possibly measured) shift every
protocol's step latency by the same amount, so a measured α moves the whole table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from raxlab.errors import RaxError
from raxlab.safe_yaml import PACKAGE_LOADER

PATH = Path(__file__).parent / "data" / "nccl_tuning.yaml"
PROTOS = ("LL", "LL128", "Simple")
ALGOS = ("ring", "tree", "nvls", "nvls_tree")
US = 1e-6
GB = 1e9
TOP_KEYS = {"as_of", "version", "base_latency_us", "hw_latency_us", "net_overhead_us", "ring_plateau", "bandwidth",
            "ll_max_bw_gbps", "tree_correction", "arch"}
ARCHS = ("volta", "ampere", "hopper", "blackwell")


@dataclass(frozen=True)
class Tables:
    """NCCL's tuning tables in SI (seconds, B/s); lists indexed like PROTOS."""

    base: dict  # algo -> [s per proto] (nan: the pair does not exist)
    hw: dict  # link ("nvlink" | "pci" | "net") -> algo -> [s per proto]
    overhead: dict  # intel / amd (s), simple_factor
    plateau: dict  # factor, min_bytes_per_rank_channel, channels
    bw: dict  # the bandwidth factors of data/nccl_tuning.yaml `bandwidth`
    ll_max: dict  # one_node {arch: B/s}, intel/amd {two_nodes, more}
    tree_corr: np.ndarray  # [proto, 24]
    arch: dict  # catalogue accelerator -> arch
    version: str


def _check_keys(node, allowed: set, where: str) -> dict:
    if not isinstance(node, dict):
        raise RaxError(f"{PATH.name}: {where} must be a mapping", field="nccl tuning")
    extra = set(node) - allowed - {"source", "channels_estimate"}
    if extra:
        raise RaxError(f"{PATH.name}: unknown key(s) {sorted(extra)} in {where}; known: {sorted(allowed)}",
                       field="nccl tuning")
    return node


def _triple(v, where: str, scale: float) -> list[float]:
    if not isinstance(v, list) or len(v) != 3:
        raise RaxError(f"{PATH.name}: {where} must list [LL, LL128, Simple]", field="nccl tuning")
    return [np.nan if x is None else float(x) * scale for x in v]


def _algos(node, where: str) -> dict:
    node = _check_keys(node, set(ALGOS), where)
    return {a: _triple(node[a], f"{where}.{a}", US) for a in ALGOS if a in node}


@lru_cache(maxsize=1)
def tables() -> Tables:
    try:
        data = _check_keys(yaml.load(PATH.read_text(), Loader=PACKAGE_LOADER), TOP_KEYS, "top level")
    except (OSError, yaml.YAMLError) as e:  # a broken package file is a bug; say which file
        raise RaxError(f"cannot read {PATH}: {e}", field="nccl tuning") from e
    hw = _check_keys(data["hw_latency_us"], {"nvlink", "pci", "net"}, "hw_latency_us")
    ll = _check_keys(data["ll_max_bw_gbps"], {"one_node", "intel", "amd"}, "ll_max_bw_gbps")
    corr = _check_keys(data["tree_correction"], set(PROTOS), "tree_correction")
    arch = {k: v for k, v in data["arch"].items() if k != "source"}
    bad = sorted(set(arch.values()) - set(ARCHS))
    if bad:
        raise RaxError(f"{PATH.name}: unknown arch {bad}; known: {', '.join(ARCHS)}", field="nccl tuning")
    oh = data["net_overhead_us"]
    return Tables(
        base=_algos(data["base_latency_us"], "base_latency_us"),
        hw={link: _algos(hw[link], f"hw_latency_us.{link}") for link in ("nvlink", "pci", "net")},
        overhead={"intel": oh["intel"] * US, "amd": oh["amd"] * US, "simple_factor": float(oh["simple_factor"])},
        plateau={k: float(v) for k, v in data["ring_plateau"].items() if k not in ("source", "channels_estimate")},
        bw={k: v for k, v in data["bandwidth"].items() if k != "source"},
        ll_max={"one_node": {a: v * GB for a, v in ll["one_node"].items()},
                **{cpu: {k: v * GB for k, v in ll[cpu].items()} for cpu in ("intel", "amd")}},
        tree_corr=np.array([corr[p] for p in PROTOS], dtype=float),
        arch=arch, version=str(data.get("version", "")))


def arch_of(accelerator: str) -> str:
    """NCCL's generation class of a catalogue accelerator (unlisted parts: ampere, see the data file)."""
    return tables().arch.get(accelerator, "ampere")


def nvls_efficiency(arch: str) -> float:
    return float(tables().bw["nvls_efficiency"].get(arch, 0.0))


def ll_max_one_node(arch: str) -> float:
    return float(tables().ll_max["one_node"].get(arch, tables().ll_max["one_node"]["ampere"]))


@dataclass
class Group:
    """One collective's shape as arrays: bytes, ranks p, ranks per node k, nodes, bandwidths (B/s)."""

    n: object
    p: object
    k: object
    nodes: object
    b_intra: object
    b_net: object


HC_FIELDS = ("alpha_intra", "alpha_inter", "intra_pci", "nvls_eff", "ll128_intra", "ll128_net", "ll_max_1", "cpu_amd")
HC_DEFAULTS = {"intra_pci": 0.0, "nvls_eff": 0.0, "ll128_intra": 0.0, "ll128_net": 0.0, "ll_max_1": 87.7e9,
               "cpu_amd": 0.0}
INF = float("inf")


@dataclass
class _X:
    """Group and hardware fields as Python floats (a scalar call: plain float arithmetic, no numpy
    overhead) or 1-D arrays of one length (a batch). `ops` holds min/max/where/log2 for that kind."""

    shape: tuple
    v: dict
    ops: object


class _Scalar:
    minimum, maximum = staticmethod(min), staticmethod(max)

    @staticmethod
    def where(c, a, b):
        return a if c else b

    @staticmethod
    def floor_log2(x):
        return float(math.floor(math.log2(max(x, 1.0))))


class _Array:
    minimum, maximum, where = staticmethod(np.minimum), staticmethod(np.maximum), staticmethod(np.where)

    @staticmethod
    def floor_log2(x):
        return np.floor(np.log2(np.maximum(x, 1.0)))


def _flatten(g: Group, hc) -> _X:
    vals = {"n": g.n, "p": g.p, "k": g.k, "nodes": g.nodes, "bi": g.b_intra, "bn": g.b_net}
    vals.update({f: getattr(hc, f, HC_DEFAULTS.get(f)) for f in HC_FIELDS})
    if all(isinstance(v, (float, int)) for v in vals.values()):  # np.float64 is a float too
        return _X((), {k: float(v) for k, v in vals.items()}, _Scalar)
    arrs = {k: np.asarray(v, dtype=float) for k, v in vals.items()}
    shape = np.broadcast_shapes(*(a.shape for a in arrs.values()))
    if all(a.size == 1 for a in arrs.values()):
        return _X(shape, {k: float(a.reshape(-1)[0]) for k, a in arrs.items()}, _Scalar)
    return _X(shape, {k: (float(a.reshape(-1)[0]) if a.size == 1 else np.broadcast_to(a, shape).ravel())
                      for k, a in arrs.items()}, _Array)


@lru_cache(maxsize=1)
def _rel() -> dict:
    """Step latencies (s) relative to NCCL's own Simple ring step on that link: α + rel is the
    hardware's step (a measured α moves the whole table). PCI has no NVLS rows (NVLS is off there)."""
    T = tables()
    out = {}
    for link in ("nvlink", "pci", "net"):
        ref = T.hw[link]["ring"][2]
        for a in ALGOS:
            out[link, a] = [x - ref for x in (T.hw[link].get(a) or T.hw["nvlink"][a])]
    return out


def _steps(x: _X, algo: str, q: int):
    """(intra-node step, network step) latency of `algo` in protocol `q`: NCCL's table for the
    scale-up link (NVLink or PCI) and the network, shifted by the hardware's α."""
    R, v, o = _rel(), x.v, x.ops
    nv, pc = R["nvlink", algo][q], R["pci", algo][q]
    return (o.maximum(nv + v["intra_pci"] * (pc - nv) + v["alpha_intra"], 0.0),
            o.maximum(R["net", algo][q] + v["alpha_inter"], 0.0))


def _ll_max(x: _X):
    t, v, o = tables().ll_max, x.v, x.ops
    amd = v["cpu_amd"] > 0
    two = o.where(amd, t["amd"]["two_nodes"], t["intel"]["two_nodes"])
    more = o.where(amd, t["amd"]["more"], t["intel"]["more"])
    return o.where(v["nodes"] <= 1, v["ll_max_1"], o.where(v["nodes"] <= 2, two, more))


def _proto_bw(x: _X, q: int, busbw, ll_factor, ll128_factor):
    """Bus bandwidth of protocol q: LL a fraction up to its ceiling; LL128 where enabled (NVLink
    inside, a GPUDirect fabric across nodes); Simple all of it."""
    v, o = x.v, x.ops
    if q == 0:
        return o.minimum(_ll_max(x), ll_factor * busbw)
    if q == 1:
        ok = (v["ll128_intra"] > 0) & ((v["nodes"] <= 1) | (v["ll128_net"] > 0))
        return o.where(ok, ll128_factor * busbw, 0.0)
    return busbw


def _ll128_anywhere(x: _X) -> bool:
    v = x.v
    return bool(np.any((np.asarray(v["ll128_intra"]) > 0) & ((np.asarray(v["nodes"]) <= 1) | (np.asarray(v["ll128_net"]) > 0))))


def _time(x: _X, lat, bw):
    """lat + n / bw; infinite where the pair is unavailable (zero bandwidth)."""
    if x.ops is _Scalar:
        return lat + x.v["n"] / bw if bw > 0 else INF
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bw > 0, lat + x.v["n"] / bw, np.inf)


def _ring(kind: str, x: _X) -> list:
    """Ring per protocol: base + (nsteps − nInterSteps)·intra + nInterSteps·net steps; ×1.4 plateau."""
    T, v, o = tables(), x.v, x.ops
    f = 2.0 if kind == "all_reduce" else 1.0
    multi = v["nodes"] > 1
    nsteps, ninter = f * (v["p"] - 1), f * (v["nodes"] - 1)
    overhead = o.where(v["cpu_amd"] > 0, T.overhead["amd"], T.overhead["intel"]) * multi
    plateau = 1.0
    if kind == "all_reduce":
        hit = multi & (v["n"] >= T.plateau["min_bytes_per_rank_channel"] * T.plateau["channels"] * v["p"])
        plateau = 1.0 + (T.plateau["factor"] - 1.0) * hit
    busbw = o.where(multi, o.minimum(v["bi"], v["bn"]), v["bi"])
    ll128 = o.where((v["k"] < 2) & multi, T.bw["ring_ll128_one_gpu_per_node"], T.bw["ring_ll128"])
    ratio = v["p"] / o.maximum(nsteps, 1.0)
    out = []
    for q in range(3):
        if q == 1 and not _ll128_anywhere(x):
            out.append(INF)  # LL128 is off for every element: nothing to price
            continue
        intra, inter = _steps(x, "ring", q)
        intra = o.maximum(intra, overhead * (T.overhead["simple_factor"] if q == 2 else 1.0))
        lat = T.base["ring"][q] + (nsteps - ninter) * intra + ninter * inter
        lat = lat * plateau if q == 2 else lat
        out.append(_time(x, lat, _proto_bw(x, q, busbw, T.bw["ring_ll"], ll128) * ratio))
    return out


def _tree(x: _X) -> list:
    """Double binary tree all-reduce per protocol, with NCCL's size correction."""
    T, v, o = tables(), x.v, x.ops
    multi = v["nodes"] > 1
    net = v["bn"] * o.where(v["nodes"] == 2, 2.0, 1.0)
    busbw = T.bw["tree"] * o.where(multi, o.minimum(v["bi"], net), v["bi"])
    ll128 = o.where(multi, T.bw["tree_ll128_multi_node"], T.bw["tree_ll128_one_node"])
    hops = o.floor_log2(v["nodes"])
    idx = o.floor_log2(v["n"] / 64.0) if x.ops is _Array else float(math.floor(math.log2(max(v["n"], 1.0) / 64.0)))
    inside = (idx >= 0) & (idx < 24)
    col = np.clip(idx, 0, 23).astype(int) if x.ops is _Array else int(min(max(idx, 0), 23))
    out = []
    for q in range(3):
        if q == 1 and not _ll128_anywhere(x):
            out.append(INF)
            continue
        intra, inter = _steps(x, "tree", q)
        lat = T.base["tree"][q] + 2 * ((v["k"] - 1) * intra + hops * inter)
        corr = o.where(inside, T.tree_corr[q][col], 1.0)
        bw = _proto_bw(x, q, busbw, T.bw["tree_ll"], ll128) * (T.bw["tree_to_algorithm"] * corr)
        out.append(_time(x, lat, bw))
    return out


def _nvls(x: _X) -> list:
    """NVLink SHARP inside one node, NVLS-tree across nodes (Simple only)."""
    T, v, o = tables(), x.v, x.ops
    ok = (v["nvls_eff"] > 0) & (v["k"] >= 2)
    bound = v["bi"] * v["nvls_eff"] * v["k"] / (v["k"] + 1)
    one = v["nodes"] <= 1
    single = o.where(ok & one, bound, 0.0)
    multi = o.where(ok & ~one if x.ops is _Array else ok and not one,
                    o.minimum(bound, v["bn"] * o.where(v["nodes"] == 2, 1.0, 0.5)), 0.0)
    intra, _ = _steps(x, "nvls", 2)
    intra_t, inter = _steps(x, "nvls_tree", 2)
    lat_t = T.base["nvls_tree"][2] + intra_t + 2 * o.floor_log2(v["nodes"]) * inter
    return [_time(x, T.base["nvls"][2] + intra, single), _time(x, lat_t, multi)]


def _labels(kind: str) -> list[str]:
    names = [f"ring/{q}" for q in PROTOS]
    if kind == "all_reduce":
        names += [f"tree/{q}" for q in PROTOS] + ["nvls/Simple", "nvls_tree/Simple"]
    return names


def _times(kind: str, x: _X) -> list:
    """One time per label of `_labels(kind)`; pairs unavailable for every element are INF
    without being priced (NVLS without an NVLS-capable NVSwitch anywhere in the batch)."""
    out = _ring(kind, x)
    if kind == "all_reduce":
        out += _tree(x) + (_nvls(x) if np.any(np.asarray(x.v["nvls_eff"]) > 0) else [INF, INF])
    return out


def _shaped(x: _X, t):
    return np.broadcast_to(np.asarray(t, dtype=float), (int(np.prod(x.shape)),)).reshape(x.shape)


def _named(kind: str, x: _X, prefix: str) -> list[tuple[str, np.ndarray]]:
    return [(n, _shaped(x, t)) for n, t in zip(_labels(kind), _times(kind, x)) if n.startswith(prefix)]


def ring(kind: str, g: Group, hc) -> list[tuple[str, np.ndarray]]:
    """Ring times per protocol, as (label, time)."""
    return _named(kind, _flatten(g, hc), "ring/")


def tree(g: Group, hc) -> list[tuple[str, np.ndarray]]:
    return _named("all_reduce", _flatten(g, hc), "tree/")


def candidates(kind: str, g: Group, hc) -> list[tuple[str, np.ndarray]]:
    """Every (algorithm/protocol, time) NCCL would consider for `kind`."""
    return _named(kind, _flatten(g, hc), "")


def best(kind: str, g: Group, hc):
    """(time, chosen algorithm/protocol label) per element: NCCL's pick, the fastest."""
    x = _flatten(g, hc)
    size = int(np.prod(x.shape))
    m = np.stack([np.broadcast_to(np.asarray(t, dtype=float), (size,)) for t in _times(kind, x)])
    i = np.argmin(m, axis=0)
    return m[i, np.arange(size)].reshape(x.shape), np.array(_labels(kind))[i].reshape(x.shape)


def best_time(kind: str, g: Group, hc):
    """NCCL's pick's time only (the hot path: a float for a scalar call). A planner batch repeats
    a few hundred distinct (bytes, ranks, hardware) rows many thousand times, so a large batch
    whose rows mostly repeat is priced once per distinct row."""
    x = _flatten(g, hc)
    if x.ops is _Scalar:
        return min(_times(kind, x))
    size = int(np.prod(x.shape))
    rows = _distinct(x) if size > DEDUPE_MIN else None
    if rows is None:
        return _min_of(_times(kind, x), size).reshape(x.shape)
    sub, inv = rows
    return _min_of(_times(kind, sub), sub.shape[0])[inv].reshape(x.shape)


def _min_of(times: list, size: int) -> np.ndarray:
    return np.minimum.reduce([np.broadcast_to(np.asarray(t, dtype=float), (size,)) for t in times])


DEDUPE_MIN = 4096
_MIX = np.random.default_rng(20261201).integers(1, 2**63, size=len(HC_FIELDS) + 6, dtype=np.uint64) | np.uint64(1)


def _distinct(x: _X):
    """(the distinct rows as an _X, inverse index), or None when rows are mostly distinct. Rows
    are keyed by a mixed hash of the varying fields' bit patterns and the grouping is verified
    element by element, so a hash collision can only cost speed, never a wrong number."""
    names = [k for k, a in x.v.items() if isinstance(a, np.ndarray)]
    cols = np.stack([x.v[k] for k in names])  # (varying fields, N), a fresh contiguous array
    with np.errstate(over="ignore"):
        key = (cols.view(np.uint64) * _MIX[:len(names), None]).sum(axis=0)
    order = np.argsort(key)  # an unstable sort is enough: any member can stand for its group
    sk = key[order]
    start = np.r_[True, sk[1:] != sk[:-1]]
    if int(start.sum()) * 4 > cols.shape[1]:
        return None
    inv = np.empty(len(key), dtype=np.intp)
    inv[order] = np.cumsum(start) - 1
    sub = cols[:, order[start]]
    if not (sub[:, inv] == cols).all():  # a collision (or a NaN): price the whole batch instead
        return None
    v = {k: (sub[names.index(k)] if k in names else a) for k, a in x.v.items()}
    return _X((sub.shape[1],), v, _Array), inv
