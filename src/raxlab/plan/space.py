"""The hardware half of the candidate space, with a recorded reason for everything left out.

A `Base` is one accelerator in one server design at one precision (compute, memory, the
scale-up domain). A `Variant` is one way to join several such nodes: a scale-out fabric and
a number of NIC rails per node (a single node needs none). A hardware option is a base × a
node count × a variant; the layout search (`search.py`) finds the best parallel layout for
each. Combinations that cannot be built are counted by reason in `Space.pruned`:

- the accelerator lacks the precision (catalogue `unsupported`, or no published peak), or
  the projection has no efficiency prior for it;
- a price the cost needs is missing (server, accelerator, NIC);
- more rails than the server has NIC slots;
- the server's NICs are built into the accelerator (Gaudi) and cannot join another fabric;
- no catalogue switch of the fabric runs at its line rate.

Measured data enters here: a compute calibration replaces the efficiency priors of the
accelerator it was measured on; a measured fabric fit replaces the fabric's effective
bandwidth and latency for every variant on that fabric (`measured.py` builds both).
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field, replace

from raxlab.catalog import fat_tree
from raxlab.errors import RaxError, unknown_name
from raxlab.predict import regimes
from raxlab.predict.adapter import hardware_from_catalog
from raxlab.predict.hardware import CommFit, Hardware, HwConsts, hw_consts

# Node counts searched: powers of two and the 1.5x steps between them, so the smallest
# cluster meeting a deadline is found within 33 % (an 8-GPU node: 8 ... 8,192 GPUs).
NODE_LADDER = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
RAILS = (1, 2, 4, 8)


@dataclass
class Base:
    """One accelerator in one server design at one precision."""

    acc: object  # catalogue Accelerator
    srv: object  # catalogue Server
    precision: str
    hw: Hardware  # no fabric; efficiency calibrated when a measurement applies
    notes: list[str]
    calibrated: bool = False
    _hc: HwConsts | None = field(default=None, repr=False)

    @property
    def g(self) -> int:
        return self.hw.gpus_per_node

    @property
    def pair(self) -> tuple[str, str]:
        return self.acc.spec.name, self.srv.spec.name  # spec: plain attributes (Entry.__getattr__ is slow)

    def consts(self, variant: "Variant") -> HwConsts:
        """Hardware constants of this base joined by `variant`: `hw_consts` of the adapter's
        Hardware with the variant's rails, its scale-out fields set here the way `hw_consts` sets
        them (a dataclass `replace` per candidate was the planner's slowest step; a test checks
        both agree)."""
        if self._hc is None:
            self._hc = hw_consts(self.hw, self.precision)
        if variant.fabric is None:
            return self._hc
        fit, hw = variant.comm_fit_for(self), variant.hw
        node_bw = fit.busbw_Bps * self.g if fit else variant.rails * hw.rail_bw * hw.fabric_eff
        c = copy.copy(self._hc)
        c.inter_bw = node_bw / self.g
        c.alpha_inter = fit.alpha_s if fit else hw.nccl_alpha_inter_s + hw.fabric_latency_s
        c.ll128_net = float(hw.fabric_gdr)
        c.regime = float(regimes.index(variant.regime or hw.fabric_regime))
        c.oversub, c.nodes_per_leaf = variant.oversub, variant.nodes_per_leaf
        return c


@dataclass
class Variant:
    """A fabric and NIC rails per node (fabric None: one node, no scale-out network)."""

    fabric: str | None
    rails: int
    nic: str | None = None  # the NIC model the fabric uses in this server
    nics_usable: int = 0  # NICs bundled in the server price that this variant uses
    nics_unused: int = 0  # bundled NICs left idle (wrong model or more than the rails): priced out
    bundled_nic: str | None = None  # the server's own compute NIC model
    hw: Hardware | None = None  # adapter output for this fabric (rails replaced per variant)
    measured: object | None = None  # measured.FabricFit for this fabric, or None (priors)
    regime: str | None = None  # load regime (predict/regimes.py); None: the fabric family's default
    oversub: float = 1.0  # fat-tree taper above the leaf, as the cost model builds the network
    nodes_per_leaf: int = 0  # nodes under one leaf at that taper (0: non-blocking, no taper)

    @property
    def tuned(self) -> bool:
        """A RoCE fabric in its tuned regime: the plan pays for the tuning (catalogue weeks)."""
        return self.fabric is not None and (self.regime or (self.hw.fabric_regime if self.hw else "")) == "tuned"

    @property
    def comm_label(self) -> str:
        return "measured" if self.measured is not None else "prior"

    def comm_fit_for(self, base: Base) -> CommFit | None:
        """A measured per-rail efficiency and latency as the per-GPU CommFit of this node design."""
        m = self.measured
        if m is None:
            return None
        busbw = self.rails * self.hw.rail_bw * m.efficiency / base.g
        alpha = m.alpha_step_s if m.alpha_step_s is not None else self.hw.nccl_alpha_inter_s + self.hw.fabric_latency_s
        return CommFit(alpha_s=alpha, busbw_Bps=busbw, source=m.source)


SINGLE_NODE = Variant(None, 0)


@dataclass
class Space:
    bases: list[Base]
    variants: dict[tuple[str, str], list[Variant]]
    nodes: tuple[int, ...]
    pruned: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def variants_for(self, base: Base, nodes: int) -> list[Variant]:
        return [SINGLE_NODE] if nodes == 1 else self.variants.get(base.pair, [])

    def flat_variants(self) -> list[Variant]:
        """Every variant once, the single-node one first (index 0)."""
        return [SINGLE_NODE] + [v for vs in self.variants.values() for v in vs]


@dataclass
class SpaceOptions:
    accelerators: tuple[str, ...] | None = None
    servers: tuple[str, ...] | None = None
    fabrics: tuple[str, ...] | None = None
    max_nodes: int = NODE_LADDER[-1]
    rails: tuple[int, ...] = RAILS
    oversubscription: float = 1.0  # fat-tree taper above the leaf, for the projection (cost: CostInputs)


def _names(cat, kind: str, wanted, flag: str) -> list[str]:
    known = cat.names(kind)
    if wanted is None:
        return known
    for w in wanted:
        if w not in known:
            raise unknown_name(kind, w, known, field=flag)
    return list(wanted)


def check_options(cat, opts: SpaceOptions) -> None:
    """Unknown names and impossible limits as one-line errors, before any work."""
    for kind, wanted, flag in (("accelerator", opts.accelerators, "--accelerators"),
                               ("server", opts.servers, "--servers"), ("fabric", opts.fabrics, "--fabrics")):
        _names(cat, kind, wanted, flag)
    node_ladder(opts.max_nodes)


def node_ladder(max_nodes: int) -> tuple[int, ...]:
    if max_nodes < 1:
        raise RaxError(f"must be >= 1, got {max_nodes}", field="--max-nodes")
    ladder = tuple(n for n in NODE_LADDER if n <= max_nodes)
    return ladder if ladder[-1] == max_nodes or max_nodes > NODE_LADDER[-1] else ladder + (max_nodes,)


def build_space(cat, precisions, opts: SpaceOptions, calibrations=None, fabric_fits=None) -> Space:
    """Every base and variant the catalogue allows, and the count of what was pruned and why."""
    nodes = node_ladder(opts.max_nodes)
    fabrics = _names(cat, "fabric", opts.fabrics, "--fabrics")
    space = Space([], {}, nodes)
    fabric_cache: dict = {}
    per_base = 1 + (len(nodes) - 1) * len(fabrics) * len(opts.rails)
    servers = set(_names(cat, "server", opts.servers, "--servers"))
    for acc_name in _names(cat, "accelerator", opts.accelerators, "--accelerators"):
        acc = cat.accelerator(acc_name)
        for srv in (s for s in cat.servers_for(acc) if s.name in servers):
            if not _priced(acc, srv, space, len(precisions) * per_base):
                continue
            hw, notes = hardware_from_catalog(cat, gpu=acc.name, server=srv.name)
            cal = (calibrations or {}).get(acc.name)
            bases = [b for p in precisions if (b := _base(acc, srv, hw, notes, p, cal, space, per_base))]
            if bases:
                space.bases.extend(bases)
                vs = _variants(cat, srv, fabrics, opts.rails, fabric_fits or {}, space, len(bases) * (len(nodes) - 1))
                for v in vs:
                    v.hw = replace(hw, **_fabric_fields(cat, acc, srv, v.fabric, fabric_cache))
                    v.oversub, v.nodes_per_leaf = _taper(cat, v, opts.oversubscription)
                space.variants[(acc.spec.name, srv.spec.name)] = vs
    return space


def _priced(acc, srv, space: Space, count: int) -> bool:
    try:
        srv.node_price_usd(acc)
    except RaxError:
        space.pruned["missing price (server or accelerator)"] += count
        return False
    return True


def _base(acc, srv, hw: Hardware, notes, precision: str, cal, space: Space, count: int) -> Base | None:
    if cal is not None:
        hw = hw.with_efficiency(cal.eff)
    try:
        hw.peak(precision)
        hw.eff.matmul_for(precision)
    except RaxError as e:
        space.pruned["unsupported precision" if "peak" in str(e) else "no efficiency prior for the precision"] += count
        return None
    return Base(acc, srv, precision, hw, list(notes), calibrated=cal is not None)


FABRIC_FIELDS = ("rail_bw", "fabric_eff", "fabric_latency_s", "fabric", "fabric_gdr", "fabric_regime")


def _taper(cat, v: Variant, oversub: float) -> tuple[float, int]:
    """(oversubscription, nodes under one leaf) of the fat-tree the cost model prices for this
    fabric: a leaf of the fabric's switch keeps `leaf_down` ports for nodes, `rails` per node."""
    if oversub <= 1.0:
        return 1.0, 0
    fab = cat.fabric(v.fabric)
    radix = cat.switch(fab.spec.switches[0]).radix_at(fab.line_rate_gbit_s)
    leaf_down = fat_tree(radix + 1, 1, radix, oversub).leaf_down
    return float(oversub), max(1, leaf_down // max(v.rails, 1))


def _fabric_fields(cat, acc, srv, fabric: str, cache: dict) -> dict:
    """The fabric's fields of `Hardware` as the adapter sets them (they depend on the fabric only)."""
    if fabric not in cache:
        rails = min(srv.gpus_per_node, srv.nic_slots)
        hw, _ = hardware_from_catalog(cat, gpu=acc.name, server=srv.name, fabric=fabric, rails=rails)
        cache[fabric] = {f: getattr(hw, f) for f in FABRIC_FIELDS}
    return cache[fabric]


def _variants(cat, srv, fabrics, rails_options, fits, space: Space, count: int) -> list[Variant]:
    out = []
    bundled = cat.nic(srv.spec.compute_nic) if srv.spec.compute_nic else None
    for name in fabrics:
        fab = cat.fabric(name)
        reason = _fabric_problem(cat, fab, srv, bundled)
        for rails in sorted(set(rails_options) | ({srv.nic_slots} if srv.nic_slots > max(rails_options) else set())):
            why = reason or (f"more rails than NIC slots" if rails > srv.nic_slots else None)
            if why:
                space.pruned[why] += count
                continue
            nic = _nic_for(cat, fab, bundled)
            usable = srv.nics_included if bundled is not None and bundled.spec.name == nic.spec.name else 0
            if rails > usable and not nic.has("price_usd") and not nic.spec.builtin:
                space.pruned["missing price (NIC)"] += count
                continue
            used = min(usable, rails)
            out.append(Variant(name, rails, nic.spec.name, used, srv.nics_included - used,
                               bundled.spec.name if bundled is not None else None, measured=fits.get(name)))
    return out


def _fabric_problem(cat, fab, srv, bundled) -> str | None:
    if bundled is not None and bundled.spec.builtin and bundled.spec.name not in fab.spec.nics:
        return "built-in NICs cannot join this fabric"
    try:
        cat.switch(fab.spec.switches[0]).radix_at(fab.line_rate_gbit_s)
    except RaxError:
        return "no switch for the fabric's line rate"
    return None


def _nic_for(cat, fab, bundled):
    """The server's own NIC when the fabric runs on it, else the fabric's first add-in NIC."""
    if bundled is not None and bundled.spec.name in fab.spec.nics:
        return bundled
    for name in fab.spec.nics:
        nic = cat.nic(name)
        if not nic.spec.builtin:
            return nic
    return cat.nic(fab.spec.nics[0])
