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


@dataclass
class _X:
    """Group and hardware fields flattened to rows of shape (1, N), so that protocol columns (3, 1)
    broadcast against them: every candidate is one (3, N) evaluation, not a loop."""

    shape: tuple
    v: dict


def _flatten(g: Group, hc) -> _X:
    """Fields that vary become rows (1, N); those that do not stay (1, 1) and broadcast for free."""
    vals = {"n": g.n, "p": g.p, "k": g.k, "nodes": g.nodes, "bi": g.b_intra, "bn": g.b_net}
    vals.update({f: getattr(hc, f, HC_DEFAULTS.get(f)) for f in HC_FIELDS})
    arrs = {k: np.asarray(v, dtype=float) for k, v in vals.items()}
    shape = np.broadcast_shapes(*(a.shape for a in arrs.values()))
    return _X(shape, {k: (a.reshape(1, 1) if a.size == 1 else np.broadcast_to(a, shape).reshape(1, -1))
                      for k, a in arrs.items()})


@lru_cache(maxsize=1)
def _cols() -> dict:
    """The tables as (3, 1) protocol columns in seconds, each step latency relative to NCCL's own
    Simple ring step on that link (`rel_*`), so α + rel is the shifted step."""
    T = tables()
    col = lambda v: np.asarray(v, dtype=float).reshape(3, 1)  # noqa: E731
    out = {f"base_{a}": col(T.base[a]) for a in ALGOS}
    for link, ref in (("nvlink", T.hw["nvlink"]["ring"][2]), ("pci", T.hw["pci"]["ring"][2]),
                      ("net", T.hw["net"]["ring"][2])):
        for a in ALGOS:
            # PCI has no NVLS rows: NVLS is disabled there (nvls_eff 0), any finite value will do
            v = T.hw[link].get(a) or T.hw["nvlink"][a]
            out[f"rel_{link}_{a}"] = col(v) - ref
    out["simple_only"] = col([0.0, 0.0, 1.0])
    out["overhead_factor"] = col([1.0, 1.0, T.overhead["simple_factor"]])
    return out


def _steps(x: _X, algo: str, rows=slice(None)):
    """(intra-node step, network step) latencies of `algo` per protocol, (3, N) (or the `rows`
    asked for): NCCL's table for the scale-up link (NVLink or PCI) and the network, shifted by
    the hardware's α minus NCCL's own Simple ring step (a measured α moves the whole table)."""
    C, v = _cols(), x.v
    nv, pc = C[f"rel_nvlink_{algo}"][rows], C[f"rel_pci_{algo}"][rows]
    intra = nv + v["intra_pci"] * (pc - nv) + v["alpha_intra"]
    inter = C[f"rel_net_{algo}"][rows] + v["alpha_inter"]
    return np.maximum(intra, 0.0, out=intra), np.maximum(inter, 0.0, out=inter)


def _ll_max(x: _X):
    t, v = tables().ll_max, x.v
    amd = v["cpu_amd"] > 0
    two = np.where(amd, t["amd"]["two_nodes"], t["intel"]["two_nodes"])
    more = np.where(amd, t["amd"]["more"], t["intel"]["more"])
    return np.where(v["nodes"] <= 1, v["ll_max_1"], np.where(v["nodes"] <= 2, two, more))


def _proto_bw(x: _X, busbw, ll_factor, ll128_factor):
    """(3, N) bus bandwidths: LL a fraction up to its ceiling; LL128 where enabled (NVLink inside,
    a GPUDirect fabric across nodes); Simple all of it."""
    v = x.v
    ll128_ok = (v["ll128_intra"] > 0) & ((v["nodes"] <= 1) | (v["ll128_net"] > 0))
    return np.concatenate([np.minimum(_ll_max(x), ll_factor * busbw), ll128_ok * (ll128_factor * busbw), busbw])


def _time(lat, n, bw):
    """lat + n / bw; infinite where the pair is unavailable (zero bandwidth)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bw > 0, lat + n / bw, np.inf)


def _ring(kind: str, x: _X):
    """Ring (3, N): base + (nsteps − nInterSteps)·intra + nInterSteps·net steps; ×1.4 plateau."""
    T, v = tables(), x.v
    f = 2.0 if kind == "all_reduce" else 1.0
    multi = v["nodes"] > 1
    nsteps, ninter = f * (v["p"] - 1), f * (v["nodes"] - 1)
    intra, inter = _steps(x, "ring")
    overhead = np.where(v["cpu_amd"] > 0, T.overhead["amd"], T.overhead["intel"]) * multi
    intra = np.maximum(intra, overhead * _cols()["overhead_factor"])
    lat = _cols()["base_ring"] + (nsteps - ninter) * intra + ninter * inter
    if kind == "all_reduce":
        plateau = multi & (v["n"] >= T.plateau["min_bytes_per_rank_channel"] * T.plateau["channels"] * v["p"])
        lat = lat * (1.0 + (T.plateau["factor"] - 1.0) * plateau * _cols()["simple_only"])
    busbw = np.where(multi, np.minimum(v["bi"], v["bn"]), v["bi"])
    ll128 = np.where((v["k"] < 2) & multi, T.bw["ring_ll128_one_gpu_per_node"], T.bw["ring_ll128"])
    bw = _proto_bw(x, busbw, T.bw["ring_ll"], ll128) * (v["p"] / np.maximum(nsteps, 1.0))
    return _time(lat, v["n"], bw)


def _tree(x: _X):
    """Double binary tree all-reduce (3, N), with NCCL's size correction."""
    T, v = tables(), x.v
    multi = v["nodes"] > 1
    net = v["bn"] * np.where(v["nodes"] == 2, 2.0, 1.0)
    busbw = T.bw["tree"] * np.where(multi, np.minimum(v["bi"], net), v["bi"])
    ll128 = np.where(multi, T.bw["tree_ll128_multi_node"], T.bw["tree_ll128_one_node"])
    intra, inter = _steps(x, "tree")
    lat = _cols()["base_tree"] + 2 * ((v["k"] - 1) * intra + _log2i(v["nodes"]) * inter)
    idx = np.floor(np.log2(np.maximum(v["n"], 1.0) / 64.0))
    corr = np.where((idx >= 0) & (idx < 24), T.tree_corr[:, np.clip(idx, 0, 23).astype(int)[0]], 1.0)
    bw = _proto_bw(x, busbw, T.bw["tree_ll"], ll128) * (T.bw["tree_to_algorithm"] * corr)
    return _time(lat, v["n"], bw)


def _nvls(x: _X):
    """(2, N): NVLink SHARP inside one node, NVLS-tree across nodes (Simple only)."""
    v, C = x.v, _cols()
    ok = (v["nvls_eff"] > 0) & (v["k"] >= 2)
    bound = v["bi"] * v["nvls_eff"] * v["k"] / (v["k"] + 1)
    single_node = v["nodes"] <= 1
    single = bound * (ok & single_node)
    multi = np.minimum(bound, v["bn"] * np.where(v["nodes"] == 2, 1.0, 0.5)) * (ok & ~single_node)
    intra, _ = _steps(x, "nvls", slice(2, 3))
    intra_t, inter = _steps(x, "nvls_tree", slice(2, 3))
    lat_t = C["base_nvls_tree"][2] + intra_t + 2 * _log2i(v["nodes"]) * inter
    return np.concatenate([_time(C["base_nvls"][2] + intra, v["n"], single), _time(lat_t, v["n"], multi)])


def _log2i(nodes):
    return np.floor(np.log2(np.maximum(nodes, 1.0)))


def _labels(kind: str) -> list[str]:
    names = [f"ring/{q}" for q in PROTOS]
    if kind == "all_reduce":
        names += [f"tree/{q}" for q in PROTOS] + ["nvls/Simple", "nvls_tree/Simple"]
    return names


def _matrix(kind: str, x: _X) -> np.ndarray:
    parts = [_ring(kind, x)]
    if kind == "all_reduce":
        parts += [_tree(x), _nvls(x)]
    return np.concatenate(parts)


def _split(kind: str, m: np.ndarray, x: _X, prefix: str) -> list[tuple[str, np.ndarray]]:
    size = int(np.prod(x.shape))
    return [(name, np.broadcast_to(row, (size,)).reshape(x.shape)) for name, row in zip(_labels(kind), m)
            if name.startswith(prefix)]


def ring(kind: str, g: Group, hc) -> list[tuple[str, np.ndarray]]:
    """Ring times per protocol, as (label, time)."""
    x = _flatten(g, hc)
    return _split(kind, _ring(kind, x), x, "ring/")


def tree(g: Group, hc) -> list[tuple[str, np.ndarray]]:
    x = _flatten(g, hc)
    t = _tree(x)
    return _split("all_reduce", np.concatenate([np.full_like(t, np.inf), t]), x, "tree/")


def candidates(kind: str, g: Group, hc) -> list[tuple[str, np.ndarray]]:
    """Every (algorithm/protocol, time) NCCL would consider for `kind`."""
    x = _flatten(g, hc)
    return _split(kind, _matrix(kind, x), x, "")


def best(kind: str, g: Group, hc):
    """(time, chosen algorithm/protocol label) per element: NCCL's pick, the fastest."""
    x = _flatten(g, hc)
    m = np.broadcast_to(_matrix(kind, x), (len(_labels(kind)), int(np.prod(x.shape))))
    i = np.argmin(m, axis=0)
    t = m[i, np.arange(m.shape[1])]
    return t.reshape(x.shape), np.array(_labels(kind))[i].reshape(x.shape)


def best_time(kind: str, g: Group, hc) -> np.ndarray:
    """NCCL's pick's time only (the hot path of the planner). A planner batch repeats a few
    hundred distinct (bytes, ranks, hardware) rows many thousand times, so large batches are
    priced once per distinct row."""
    x = _flatten(g, hc)
    size = int(np.prod(x.shape))
    rows = _distinct(x) if size > DEDUPE_MIN else None
    if rows is None:
        return np.broadcast_to(_matrix(kind, x).min(axis=0), (size,)).reshape(x.shape)
    sub, inv = rows
    return _matrix(kind, sub).min(axis=0)[inv].reshape(x.shape)


DEDUPE_MIN = 512
_MIX = np.random.default_rng(20261201).integers(1, 2**63, size=len(HC_FIELDS) + 6, dtype=np.uint64) | np.uint64(1)


def _distinct(x: _X):
    """(the distinct rows as an _X, inverse index), or None when rows are mostly distinct. Rows
    are keyed by a mixed hash of the varying fields' bit patterns and the grouping is verified
    element by element, so a hash collision can only cost speed, never a wrong number."""
    names = [k for k, a in x.v.items() if a.shape[1] > 1]
    cols = np.ascontiguousarray(np.concatenate([x.v[k] for k in names]))  # (varying fields, N)
    with np.errstate(over="ignore"):
        key = (cols.view(np.uint64) * _MIX[:len(names), None]).sum(axis=0)
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    if len(first) * 4 > cols.shape[1]:
        return None
    inv = inv.ravel()
    sub = cols[:, first]
    if not (sub[:, inv] == cols).all():  # a collision (or a NaN): price the whole batch instead
        return None
    v = {k: (sub[names.index(k)][None, :] if k in names else a) for k, a in x.v.items()}
    return _X((len(first),), v), inv
