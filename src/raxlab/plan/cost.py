"""What each hardware option costs: CAPEX, power, energy over the horizon, TCO, rack space.

CAPEX = nodes × (node price with its GPUs, less bundled NICs the fabric cannot use, plus the
fabric's NICs beyond those bundled) + switches and cables/optics of a fat-tree sized by
`catalog.fat_tree` (every rail of every node is one endpoint; not rail-optimised) + storage
(the data set and kept checkpoints, on a shared flash file system for a cluster, local NVMe
for one node). Every price comes from the catalogue with its label (catalogue, estimate,
override); `breakdown` lists them with their sources for the options a report shows.

Power: accelerators at TDP × `gpu_power_fraction`, the rest of the node at its rated maximum
less its GPUs × `host_power_fraction`, switches and optics at their rated power (always on);
× PUE for the facility. Energy cost = facility power × hours × electricity price over the
TCO horizon, assuming the cluster runs the whole horizon. TCO = CAPEX + energy (support,
staff, space rent are not in the catalogue and not included: listed as an assumption).
Arrays are per option, aligned with `search.SearchResult.cols`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from raxlab.catalog import fat_tree
from raxlab.errors import RaxError
from raxlab.plan.defaults import default

HOURS_PER_YEAR = 365.25 * 24
COMPONENTS = ("servers", "nics", "network", "storage")  # CAPEX parts, for price sensitivity


@dataclass
class CostInputs:
    storage_cluster: str = "parallel-fs-flash"
    storage_single: str = "local-nvme"
    oversubscription: float = 1.0
    gpu_power_fraction: float = field(default_factory=lambda: default("gpu_power_fraction").value)
    host_power_fraction: float = field(default_factory=lambda: default("host_power_fraction").value)


def _net_units(cat, fabric: str) -> dict:
    """Unit price/power/height of the fabric's default switch and cables (fabric_bom's parts)."""
    fab = cat.fabric(fabric)
    sw = cat.switch(fab.spec.switches[0])
    parts = {"switch": sw, "short": cat.cable(fab.spec.cable_short), "long": cat.cable(fab.spec.cable_long)}
    out = {"radix": sw.radix_at(fab.line_rate_gbit_s), "rate": fab.line_rate_Bps, "parts": parts}
    for k, e in parts.items():
        out[k] = (e.si("price_usd") if e.has("price_usd") else math.nan, e.si("power_w") if e.has("power_w") else 0.0)
    out["switch_ru"] = sw.si("rack_units") if sw.has("rack_units") else default("switch_rack_units").value
    return out


def network(cat, fabric: str, endpoints: int, oversub: float, cache: dict,
            node_link: str = "short") -> tuple[float, float, float, object]:
    """(CAPEX, power W, rack units, FatTree) of switches and links for `endpoints` NIC ports,
    node-leaf links on the fabric's `node_link` cable (a server's `node_leaf_link`). The same
    counts as `catalog.fabric_bom` (tests check it); unit figures cached per fabric."""
    key = (fabric, endpoints, oversub, node_link)
    if key not in cache:
        u = cache.setdefault(("units", fabric), _net_units(cat, fabric))
        tree = fat_tree(endpoints, 1, u["radix"], oversub, link_rate_Bps=u["rate"])
        counts = (("switch", tree.switches), (node_link, tree.links_node_leaf), ("long", tree.switch_links))
        capex = sum(n * u[k][0] for k, n in counts if n)
        power = sum(n * u[k][1] for k, n in counts)
        cache[key] = (capex, power, tree.switches * u["switch_ru"], tree)
    return cache[key]


def _storage_bytes(obj, card) -> float:
    """The data set (one pass, bytes on disk per sample from the customer's sample) plus kept
    checkpoints of the full training state."""
    samples = (obj.work / obj.tokens_per_sample if obj.unit == "tokens" else obj.work) if obj.work else 0.0
    epochs_data = samples * float(card.sample_bytes or 0.0)
    ckpt = default("checkpoints_kept").value * default("checkpoint_bytes_per_param").value * float(card.params)
    return epochs_data + (ckpt if obj.task != "infer" else 2.0 * float(card.params))


def option_costs(cat, space, res, obj, card, ci: CostInputs) -> dict:
    """CAPEX, power, energy, TCO and rack units per option (numpy arrays), with CAPEX parts."""
    c = res.cols
    b, v, n = c["base"].astype(int), c["variant"].astype(int), c["nodes"].astype(float)
    per_base = _base_table(space)
    per_var = _variant_table(cat, res.variants)
    net = _network_table(cat, res.variants, v, c["nodes"].astype(int), ci.oversubscription, per_base["link"][b])
    servers = n * (per_base["node_usd"][b] - per_var["credit_usd"][v])
    nics = n * per_var["nic_usd"][v]
    st_bytes = _storage_bytes(obj, card)
    tiers = {k: cat.storage(name) for k, name in (("one", ci.storage_single), ("many", ci.storage_cluster))}
    storage = np.where(n > 1, tiers["many"].price_usd_per_byte, tiers["one"].price_usd_per_byte) * st_bytes
    capex = servers + nics + net["capex"] + storage
    tuning = per_var["tuning_usd"][v] * (n > 1)
    gpu_w, host_w = per_base["gpu_w"][b], per_base["host_w"][b]
    it_avg = n * (gpu_w * ci.gpu_power_fraction + host_w * ci.host_power_fraction) + net["power"]
    it_peak = n * (gpu_w + host_w) + net["power"]
    energy = it_avg * obj.pue / 1e3 * HOURS_PER_YEAR * obj.tco_years * obj.electricity_usd_per_kwh
    return {"servers": servers, "nics": nics, "network": net["capex"], "storage": storage, "capex": capex,
            "it_avg_w": it_avg, "it_peak_w": it_peak, "facility_w": it_avg * obj.pue, "energy": energy,
            "tuning": tuning, "tco": capex + energy + tuning, "rack_units": n * per_base["ru"][b] + net["ru"], "tiers": net["tiers"],
            "storage_bytes": st_bytes}


def _base_table(space) -> dict:
    rows = []
    for base in space.bases:
        acc, srv = base.acc, base.srv
        gpu_w = srv.gpus_per_node * acc.tdp_w
        ru = srv.si("rack_units") if srv.has("rack_units") else math.nan
        rows.append((srv.node_price_usd(acc), gpu_w, max(srv.power_w - gpu_w, 0.0), ru))
    a = np.array(rows, float).reshape(-1, 4)
    link = np.array([b.srv.spec.node_leaf_link for b in space.bases], object)
    return {"node_usd": a[:, 0], "gpu_w": a[:, 1], "host_w": a[:, 2], "ru": a[:, 3], "link": link}


def _variant_table(cat, variants) -> dict:
    """Per variant and node: NICs to buy beyond the bundled ones, and the credit for bundled
    NICs the fabric cannot use (a quote without them); per cluster: the fabric's tuning."""
    nic_usd, credit, tuning = np.zeros(len(variants)), np.zeros(len(variants)), np.zeros(len(variants))
    for i, v in enumerate(variants):
        if v.fabric is None:
            continue
        tuning[i] = tuning_usd(cat, v.fabric) if v.tuned else 0.0
        nic = cat.nic(v.nic)
        buy = max(0, math.ceil(v.rails / nic.ports) - v.nics_usable)
        nic_usd[i] = buy * nic.price_usd if buy else 0.0
        if v.nics_unused and v.bundled_nic:
            bundled = cat.nic(v.bundled_nic)
            credit[i] = v.nics_unused * bundled.price_usd if bundled.has("price_usd") else 0.0
    return {"nic_usd": nic_usd, "credit_usd": credit, "tuning_usd": tuning}


def tuning_usd(cat, fabric: str, band: str = "value") -> float:
    """One-off engineering to tune `fabric` into its tuned regime: catalogue engineer-weeks
    (low/value/high) x the planner's engineer rate; 0 when the catalogue has nothing to tune."""
    fab = cat.fabric(fabric)
    if not fab.has("tuning_engineer_weeks"):
        return 0.0
    lo, v, hi = fab.range_si("tuning_engineer_weeks")
    return {"low": lo, "value": v, "high": hi}[band] * default("engineer_usd_per_week").value


def _network_table(cat, variants, v, nodes, oversub, links) -> dict:
    cache: dict = {}
    out = {k: np.zeros(len(v)) for k in ("capex", "power", "ru", "tiers")}
    for i, (vi, n, link) in enumerate(zip(v, nodes, links)):
        var = variants[vi]
        if var.fabric is None:
            continue
        try:
            capex, power, ru, tree = network(cat, var.fabric, int(n) * var.rails, oversub, cache, link)
        except RaxError:
            capex, power, ru, tree = math.nan, math.nan, math.nan, None
        out["capex"][i], out["power"][i], out["ru"][i] = capex, power, ru
        out["tiers"][i] = tree.tiers if tree is not None else math.nan
    return out


def rel_change(a: float, b: float) -> float | None:
    """a / b - 1, or None when b is 0 (a free option: prices may be 0): no ratio to a zero cost."""
    a, b = float(a), float(b)
    if not math.isfinite(a) or not math.isfinite(b) or (b == 0 and a != 0):
        return None
    return 0.0 if b == 0 else a / b - 1.0
