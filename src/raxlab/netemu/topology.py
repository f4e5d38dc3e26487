"""Emulated topologies: nodes of several ranks, leaves whose uplinks the nodes share, a spine.

    --emulate "nodes=4,leaves=2,nic=1gbit,leaf=4:1"      # 4 nodes, 2 per leaf, uplinks tapered 4:1
    --emulate "leaf=2:1,uplink=2gbit"                     # nodes = --ranks, 2 leaves
    --emulate topo.yaml                                   # the same keys as a YAML mapping

Keys (strict; an unknown one fails listing these):
  nodes       emulated nodes (network namespaces); default --ranks / per_node
  per_node    ranks per node (they talk over the node's own loopback, unshaped, like NVLink); default 1
  leaves      leaf switches, nodes split evenly; default 2 when an uplink or ratio is given, else 1
  nic         each node's link to its leaf, each way (tc rate: 1gbit, 500mbit)
  uplink      each leaf's link to the spine, each way, shared by every node under the leaf
  leaf        oversubscription of a leaf, R:1 = (nodes per leaf x nic) / uplink; two of nic,
              uplink and leaf give the third; nic alone with 2+ leaves means non-blocking (1:1)
  background  optional cross-leaf TCP traffic between two extra namespaces (one per leaf, both
              ways), at most this rate; it shares the uplinks with the ranks
  background_s  bound on the background traffic's life in seconds (default 600); it also stops
              when the fabric is removed

Per tier this is what a real leaf-spine fabric with oversubscribed leaves does: traffic
between nodes under one leaf stays in that leaf's bridge; traffic to another leaf queues in
the leaf's uplink tbf, so flows of several nodes share its rate (TCP's fair share: a ring
all-reduce puts one flow on each uplink direction; an all-to-all puts nodes-per-leaf x
nodes-of-the-other-leaf flows on it). Only rates are emulated (see `shaping`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from raxlab.errors import RaxError, unknown_name
from raxlab.netemu.shaping import format_rate, parse_rate

KEYS = ("nodes", "per_node", "leaves", "nic", "uplink", "leaf", "background", "background_s")
MAX_NODES = 64  # a 2-core host runs a handful; beyond this the host, not the fabric, is measured
MAX_BACKGROUND_S = 3600.0


@dataclass(frozen=True)
class Topology:
    nodes: int
    per_node: int
    leaves: int
    nic_bps: float
    uplink_bps: float | None  # None: one leaf, no spine
    background_bps: float | None = None
    background_s: float = 600.0

    @property
    def ranks(self) -> int:
        return self.nodes * self.per_node

    @property
    def nodes_per_leaf(self) -> int:
        return self.nodes // self.leaves

    @property
    def oversubscription(self) -> float | None:
        """Down capacity / up capacity of a leaf: 1.0 non-blocking, 4.0 for a 4:1 taper."""
        return self.nodes_per_leaf * self.nic_bps / self.uplink_bps if self.uplink_bps else None

    @property
    def capacity_bps(self) -> float:
        """Every shaped link's rate, summed: what the emulated fabric provides (its cost proxy)."""
        return self.nodes * self.nic_bps + (self.leaves * self.uplink_bps if self.uplink_bps else 0.0)

    def leaf_of(self, node: int) -> int:
        return node // self.nodes_per_leaf

    def ring_bottleneck_bps(self) -> float:
        """Rate a ring over the nodes in order gets: one flow per direction crosses each uplink."""
        return min(self.nic_bps, self.uplink_bps) if self.uplink_bps else self.nic_bps

    def busbw_bound_bps(self, collective: str) -> float:
        """nccl-tests busbw (bit/s) the tiers allow when every link is shared fairly (TCP's fair share).

        Ring all-reduce over the ranks in order: one flow per direction crosses each uplink and
        each NIC, so busbw <= min(nic, uplink). All-to-all of S bytes per rank over n ranks, g
        per node: a node's NIC carries g(n-g)S/n, a leaf's uplink npl·g(n-npl·g)S/n each way;
        busbw = (n-1)/n · S / t with t the slower of the two (nccl-tests PERFORMANCE.md)."""
        n, g = self.ranks, self.per_node
        if collective == "all_reduce":
            return self.ring_bottleneck_bps()
        if collective != "all_to_all":
            raise ValueError(f"no fair-share model for {collective!r}; known: all_reduce, all_to_all")
        t = g * (n - g) / n / self.nic_bps if n > g else 0.0
        if self.uplink_bps:
            down = self.nodes_per_leaf * g
            t = max(t, down * (n - down) / n / self.uplink_bps)
        return (n - 1) / n / t if t else math.inf

    def to_dict(self) -> dict:
        r = self.oversubscription
        return {**asdict(self), "ranks": self.ranks, "nodes_per_leaf": self.nodes_per_leaf,
                "nic": format_rate(self.nic_bps), "uplink": format_rate(self.uplink_bps) if self.uplink_bps else None,
                "oversubscription": r, "leaf": f"{r:g}:1" if r else None, "capacity_bps": self.capacity_bps,
                "ring_bottleneck_GBps": self.ring_bottleneck_bps() / 8e9,
                "background": format_rate(self.background_bps) if self.background_bps else None}

    def label(self) -> str:
        tier = f", uplinks {format_rate(self.uplink_bps)} ({self.oversubscription:g}:1)" if self.uplink_bps else ""
        per = f" x {self.per_node} ranks" if self.per_node > 1 else ""
        bg = f", background {format_rate(self.background_bps)}" if self.background_bps else ""
        return f"{self.nodes} nodes{per} on {self.leaves} leaves, nic {format_rate(self.nic_bps)}{tier}{bg}"


def is_topology(text: str | None) -> bool:
    """A topology spec (k=v list or a YAML file), as opposed to a single link rate."""
    t = str(text or "")
    return "=" in t or t.endswith((".yaml", ".yml"))


def parse_topology(text: str, ranks: int | None = None, field: str = "--emulate") -> Topology:
    """`k=v,k=v` or a YAML file path -> Topology; one-line RaxError naming the key."""
    raw = _read_yaml(text, field) if text.endswith((".yaml", ".yml")) else _read_pairs(text, field)
    for key in raw:
        if key not in KEYS:
            raise unknown_name("topology key", str(key), KEYS, field=field)
    return _build(raw, ranks, field)


def _read_pairs(text: str, field: str) -> dict:
    out = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, sep, value = part.partition("=")
        if not sep or not value.strip():
            raise RaxError(f"bad topology part {part!r}; use KEY=VALUE joined by commas, e.g. "
                           "nodes=4,leaves=2,nic=1gbit,leaf=4:1", field=field)
        if key.strip() in out:
            raise RaxError(f"topology key {key.strip()!r} given twice", field=field)
        out[key.strip()] = value.strip()
    return out


def _read_yaml(path: str, field: str) -> dict:
    from raxlab import safe_yaml

    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise RaxError(f"cannot read topology file {path}: {exc.strerror or exc}", field=field) from None
    data = safe_yaml.load(text, where=path, field=field)
    if not isinstance(data, dict):
        raise RaxError(f"{path}: a topology file is a mapping of {', '.join(KEYS)}", field=field)
    return {str(k): str(v) for k, v in data.items()}


def _int(raw: dict, key: str, default: int | None, field: str) -> int | None:
    if key not in raw:
        return default
    try:
        v = int(str(raw[key]))
    except ValueError:
        v = 0
    if not 1 <= v <= MAX_NODES:
        raise RaxError(f"topology {key}={raw[key]!r}: a whole number in 1..{MAX_NODES}", field=field)
    return v


def _ratio(text: str, field: str) -> float:
    a, sep, b = str(text).partition(":")
    try:
        r = float(a) / float(b) if sep else float(a)
    except (ValueError, ZeroDivisionError):
        r = -1.0
    if not 0 < r <= 64 or not math.isfinite(r):
        raise RaxError(f"topology leaf={text!r}: an oversubscription R:1 with R in (0, 64], e.g. 4:1", field=field)
    return r


def _build(raw: dict, ranks: int | None, field: str) -> Topology:
    per = _int(raw, "per_node", 1, field)
    nodes = _int(raw, "nodes", None, field)
    if nodes is None:
        if not ranks or ranks % per:
            raise RaxError(f"topology: give nodes=N (or --ranks divisible by per_node={per})", field=field)
        nodes = ranks // per
    if ranks is not None and nodes * per != ranks:
        raise RaxError(f"topology holds {nodes} nodes x {per} ranks = {nodes * per} ranks, but --ranks is {ranks}",
                       field="--ranks")
    tiered = "uplink" in raw or "leaf" in raw
    leaves = _int(raw, "leaves", 2 if tiered and nodes >= 2 else 1, field)
    if nodes % leaves:
        raise RaxError(f"topology: {nodes} nodes do not split evenly over {leaves} leaves", field=field)
    nic, up = _rates(raw, nodes // leaves, leaves, field)
    bg = parse_rate(raw["background"], field=field) if "background" in raw else None
    if bg and leaves < 2:
        raise RaxError("topology background traffic crosses the spine: it needs leaves >= 2", field=field)
    bg_s = _seconds(raw.get("background_s", "600"), field)
    return Topology(nodes, per, leaves, nic, up, bg, bg_s)


def _rates(raw: dict, per_leaf: int, leaves: int, field: str) -> tuple[float, float | None]:
    nic = parse_rate(raw["nic"], field=field) if "nic" in raw else None
    up = parse_rate(raw["uplink"], field=field) if "uplink" in raw else None
    ratio = _ratio(raw["leaf"], field) if "leaf" in raw else None
    if leaves < 2:
        if up or ratio:
            raise RaxError("topology: uplink and leaf need a spine, i.e. leaves >= 2", field=field)
        if nic is None:
            raise RaxError("topology: give nic=RATE (each node's link)", field=field)
        return nic, None
    if nic is None and (up is None or ratio is None):
        raise RaxError("topology: give two of nic, uplink and leaf (R:1), or nic alone for non-blocking leaves",
                       field=field)
    if nic is None:
        nic = up * ratio / per_leaf
    elif up is None:
        up = per_leaf * nic / (ratio or 1.0)
    elif ratio is not None and abs(per_leaf * nic / up / ratio - 1) > 0.01:
        raise RaxError(f"topology: nic, uplink and leaf disagree ({per_leaf} x nic / uplink = "
                       f"{per_leaf * nic / up:g}, leaf says {ratio:g}); give two of them", field=field)
    for name, v in (("nic", nic), ("uplink", up)):
        if not 1e6 <= v <= 400e9:
            raise RaxError(f"topology: derived {name} rate {v:g} bit/s is outside 1mbit..400gbit", field=field)
    return nic, up


def _seconds(text: str, field: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 < v <= MAX_BACKGROUND_S:
        raise RaxError(f"topology background_s={text!r}: seconds in (0, {MAX_BACKGROUND_S:g}]", field=field)
    return v
