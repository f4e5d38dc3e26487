"""Fat-tree (folded Clos) sizing: switch counts, links by tier and bisection bandwidth.

Construction (uniform switch radix k, every link at the fabric's line rate):

* Endpoints E = servers x rails (one NIC port per rail).
* Leaf: d = floor(k * o / (o + 1)) ports down, u = k - d up, for oversubscription o (d:u).
* Leaves L = ceil(E / d), or rails x ceil(servers / d) when rail-optimised (each rail's NICs
  on their own leaves, so the same rail of every server is one hop apart).
* One switch when E <= k. Two tiers when L <= k: each leaf has m links to each of S = u / m
  spines, m the largest divisor of u with L * m <= k (equal paths for ECMP, fewest spines).
* Three tiers otherwise (pods): spines split ds = floor(k * oc / (oc + 1)) down, us = k - ds up
  (oc the spine-to-core oversubscription); a pod is ds leaves and u spines (one link from
  each leaf to each pod spine); core switches take mc links from each pod, mc the largest
  divisor of the pod's uplinks u * us with P * mc <= k. More than k pods needs a fourth tier
  (not modelled: RaxError).
* Bisection (one direction) = min(E, L * u, spine uplinks) / 2 x line rate: cut the
  endpoints in half; what crosses is bounded by half the endpoint links and half of each
  tier's uplinks.

The classic k-ary fat-tree (Al-Fares et al., SIGCOMM 2008: k^3/4 hosts, 5k^2/4 switches) is
the 1:1 three-tier case. For 1,024 endpoints at k = 64, 1:1 this gives 32 leaves + 16 spines,
the same 48 switches as the 1,024-GPU NDR design in catalog-facts.md §3d (S46).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from raxlab.errors import RaxError


@dataclass(frozen=True)
class FatTree:
    servers: int
    rails: int
    radix: int
    oversubscription: float  # requested leaf down:up
    rail_optimized: bool
    tiers: int
    endpoints: int
    leaf_down: int
    leaf_up: int
    leaves: int
    spines: int
    cores: int
    pods: int
    links_node_leaf: int
    links_leaf_spine: int
    links_spine_core: int
    spine_up: int
    link_rate_Bps: float | None = None

    @property
    def switches(self) -> int:
        return self.leaves + self.spines + self.cores

    @property
    def switch_links(self) -> int:
        """Switch-to-switch links (usually optics)."""
        return self.links_leaf_spine + self.links_spine_core

    @property
    def bisection_links(self) -> float:
        """Links' worth of one-direction bandwidth across the worst cut in half."""
        limits = [self.endpoints]
        if self.tiers >= 2:
            limits.append(self.leaves * self.leaf_up)
        if self.tiers == 3:
            limits.append(self.spines * self.spine_up)
        return min(limits) / 2

    @property
    def bisection_Bps(self) -> float:
        if self.link_rate_Bps is None:
            raise RaxError("no link rate given; pass link_rate_Bps to fat_tree()", field="link_rate_Bps")
        return self.bisection_links * self.link_rate_Bps

    @property
    def oversubscription_built(self) -> float:
        """Endpoints per leaf uplink as built (below the request when leaves are not full)."""
        up = self.leaves * self.leaf_up
        return self.endpoints / up if self.tiers >= 2 and up else 1.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(switches=self.switches, switch_links=self.switch_links,
                 oversubscription_built=self.oversubscription_built,
                 bisection_Bps=self.bisection_Bps if self.link_rate_Bps else None)
        return d


def _largest_divisor(n: int, limit: float) -> int:
    """Largest divisor of n that is <= limit (at least 1)."""
    for m in range(min(n, max(int(limit), 1)), 0, -1):
        if n % m == 0:
            return m
    return 1


def _split(radix: int, ratio: float) -> tuple[int, int]:
    """Ports down and up for a down:up ratio on a radix-port switch."""
    down = math.floor(radix * ratio / (ratio + 1))
    return down, radix - down


def _check_args(servers: int, rails: int, radix: int, oversub: float, core_oversub: float) -> None:
    for name, v in (("servers", servers), ("rails", rails), ("radix", radix)):
        if not isinstance(v, int) or v < 1:
            raise RaxError(f"must be a positive whole number (got {v!r})", field=name)
    if radix < 4:
        raise RaxError(f"a fat-tree needs switches of at least 4 ports (got {radix})", field="radix")
    for name, v in (("oversubscription", oversub), ("core_oversubscription", core_oversub)):
        if not v >= 1:
            raise RaxError(f"must be >= 1 (down:up, 1 = non-blocking), got {v!r}", field=name)


def fat_tree(servers: int, rails: int, radix: int, oversubscription: float = 1.0, *,
             rail_optimized: bool = False, core_oversubscription: float = 1.0,
             link_rate_Bps: float | None = None) -> FatTree:
    """Size a one-, two- or three-tier fat-tree (tiers chosen by radix); see module doc."""
    _check_args(servers, rails, radix, oversubscription, core_oversubscription)
    e = servers * rails
    base = dict(servers=servers, rails=rails, radix=radix, oversubscription=oversubscription,
                rail_optimized=rail_optimized, endpoints=e, link_rate_Bps=link_rate_Bps)
    if e <= radix:
        return FatTree(**base, tiers=1, leaf_down=e, leaf_up=0, leaves=1, spines=0, cores=0,
                       pods=1, links_node_leaf=e, links_leaf_spine=0, links_spine_core=0, spine_up=0)
    d, u = _split(radix, oversubscription)
    if d < 1 or u < 1:
        raise RaxError(f"oversubscription {oversubscription:g} leaves no ports on a "
                       f"{radix}-port leaf", field="oversubscription")
    leaves = rails * math.ceil(servers / d) if rail_optimized else math.ceil(e / d)
    if leaves <= radix:
        m = _largest_divisor(u, radix / leaves)
        return FatTree(**base, tiers=2, leaf_down=d, leaf_up=u, leaves=leaves, spines=u // m,
                       cores=0, pods=1, links_node_leaf=e, links_leaf_spine=leaves * u,
                       links_spine_core=0, spine_up=0)
    return _three_tier(base, d, u, leaves, radix, core_oversubscription)


def _three_tier(base: dict, d: int, u: int, leaves: int, radix: int, core_oversub: float) -> FatTree:
    ds, us = _split(radix, core_oversub)
    if ds < 1 or us < 1:
        raise RaxError(f"core_oversubscription {core_oversub:g} leaves no ports on a spine",
                       field="core_oversubscription")
    pods = math.ceil(leaves / ds)
    if pods > radix:
        most = radix * ds * d
        raise RaxError(f"{base['endpoints']} endpoints need more than three tiers at radix "
                       f"{radix} (at most {most} at this oversubscription)", field="servers")
    pod_spines = u
    pod_uplinks = pod_spines * us
    mc = _largest_divisor(pod_uplinks, radix / pods)
    return FatTree(**base, tiers=3, leaf_down=d, leaf_up=u, leaves=leaves,
                   spines=pods * pod_spines, cores=pod_uplinks // mc, pods=pods,
                   links_node_leaf=base["endpoints"], links_leaf_spine=leaves * u,
                   links_spine_core=pods * pod_uplinks, spine_up=us)


@dataclass(frozen=True)
class BomLine:
    """One line of a network bill of materials (prices and power per unit, None if unknown)."""

    kind: str
    name: str
    role: str
    count: int
    unit_price_usd: float | None
    unit_power_w: float | None
    price_label: str | None  # 'catalogue', 'estimate' or 'override'

    @property
    def price_usd(self) -> float:
        if self.unit_price_usd is None:
            raise RaxError(f"missing price for {self.kind} {self.name!r}; add your quote in a "
                           "catalogue override file (--catalog-override)", field="price_usd")
        return self.count * self.unit_price_usd


def _line(entry, role: str, count: int) -> BomLine:
    price = entry.si("price_usd") if entry.has("price_usd") else None
    label = entry.provenance("price_usd").label if price is not None else None
    power = entry.si("power_w") if entry.has("power_w") else None
    return BomLine(entry.KIND, entry.name, role, count, price, power, label)


def fabric_bom(catalog, fabric: str, servers: int, rails: int, oversubscription: float = 1.0, *,
               rail_optimized: bool = False, core_oversubscription: float = 1.0,
               switch: str | None = None, nic: str | None = None,
               nics_included_per_server: int = 0, node_link: str = "short") -> tuple[FatTree, list[BomLine]]:
    """Fat-tree of `fabric`'s default (or given) switch and its parts: NICs beyond those the
    server price includes, switches, node-leaf cables (the fabric's short cable, or its long one
    for `node_link="long"`: a server's `node_leaf_link`), long switch-switch links."""
    fab = catalog.fabric(fabric)
    sw = catalog.switch(switch or fab.spec.switches[0])
    card = catalog.nic(nic or fab.spec.nics[0])
    tree = fat_tree(servers, rails, sw.radix_at(fab.line_rate_gbit_s), oversubscription,
                    rail_optimized=rail_optimized, core_oversubscription=core_oversubscription,
                    link_rate_Bps=fab.line_rate_Bps)
    nics_per_server = max(0, math.ceil(rails / card.ports) - nics_included_per_server)
    lines = [
        _line(card, "nic", servers * nics_per_server),
        _line(sw, "switch", tree.switches),
        _line(catalog.cable(_node_cable(fab, node_link)), "node-leaf link", tree.links_node_leaf),
        _line(catalog.cable(fab.spec.cable_long), "switch-switch link", tree.switch_links),
    ]
    return tree, [ln for ln in lines if ln.count > 0]


def _node_cable(fab, node_link: str) -> str:
    if node_link not in ("short", "long"):
        raise RaxError(f"node_link must be short or long, got {node_link!r}", field="node_link")
    return fab.spec.cable_short if node_link == "short" else fab.spec.cable_long
