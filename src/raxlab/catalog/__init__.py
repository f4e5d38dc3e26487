"""Catalogue of reference architectures: accelerators, servers, NICs, fabrics, switches,
cables/optics and storage tiers, each number with its source (or estimate) and date.

Data lives in `data/*.yaml` (one entry per part, units in field names, strict schema).
Python objects carry SI: FLOP/s, bytes, B/s, seconds, W, USD.

API for the projection and planner layers::

    from raxlab.catalog import load_catalog, fat_tree, fabric_bom

    cat = load_catalog()                      # built-in + override (arg, $RAX_CATALOG_OVERRIDE,
                                              # or ~/.config/raxlab/catalog-override.yaml)
    cat.names("accelerator")                  # kinds: accelerator server nic fabric switch cable storage
    acc = cat.accelerator("h100-sxm")         # unknown name -> RaxError listing the closest names
    acc.peak_flops("bf16")                    # dense FLOP/s; RaxError "unsupported precision ..."
    acc.mem_bytes, acc.mem_bw_Bps, acc.scaleup_bw_Bps, acc.host_link_Bps, acc.tdp_w, acc.price_usd
    acc.mamf_flops("bf16")                    # published achievable matmul FLOP/s or None
    srv = cat.server("hgx-h100-8gpu")
    srv.gpus_per_node, srv.scaleup_topology, srv.nic_slots, srv.power_w, srv.fits(acc)
    srv.node_price_usd(acc), srv.scaleup_bw_Bps(acc), cat.servers_for(acc)
    fab = cat.fabric("ib-ndr")
    fab.line_rate_Bps, fab.effective_fraction, fab.effective_Bps, fab.latency_s, fab.gdr,
    fab.rdma, fab.cpu_cores_per_Bps, fab.range_si("effective_fraction")  # (low, value, high)
    sw = cat.switch(fab.switches[0]); sw.radix_at(400), sw.price_usd, sw.power_w
    entry.provenance("price_usd")             # Provenance: source, estimate, as_of, basis,
                                              # low/high, override flag, .label for reports
    tree = fat_tree(servers=128, rails=8, radix=64, oversubscription=3, link_rate_Bps=50e9)
    bom = fabric_bom(cat, "ib-ndr", servers=128, rails=8, oversubscription=1)

Missing numbers (a price nobody published, a precision the part lacks) raise RaxError;
there is never a fallback to another part's numbers.
"""

from raxlab.catalog.catalog import Catalog, builtin_files, find_override, load_catalog, user_override_path
from raxlab.catalog.checks import consistency_issues
from raxlab.catalog.parts import (DTYPES, KINDS, SECTIONS, Accelerator, Cable, Fabric, Nic, Server,
                                  Storage, Switch)
from raxlab.catalog.schema import Entry, Provenance
from raxlab.catalog.topology import BomLine, FatTree, fabric_bom, fat_tree

__all__ = [
    "Accelerator", "BomLine", "Cable", "Catalog", "builtin_files", "DTYPES", "Entry", "Fabric", "FatTree", "KINDS",
    "Nic", "Provenance", "SECTIONS", "Server", "Storage", "Switch", "consistency_issues",
    "fabric_bom", "fat_tree", "find_override", "load_catalog", "user_override_path",
]
