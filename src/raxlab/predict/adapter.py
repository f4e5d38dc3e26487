"""Build a `Hardware` from catalogue entries (the only module here that knows the catalogue).

    hw, notes = hardware_from_catalog(load_catalog(), gpu="h100-sxm", server="hgx-h100-8gpu",
                                      fabric="ib-ndr", rails=8)

Peaks, memory, scale-up bandwidth, fabric line rate, effective fraction and latency come from
the catalogue (each with its source there); achievable fractions from `priors.yaml`
(or the catalogue's MAMF figure). `notes` lists the assumptions that are estimates.
"""

from __future__ import annotations

from raxlab.errors import RaxError
from raxlab.predict import nccl, priors, regimes
from raxlab.predict.hardware import CommFit, Hardware

DTYPES = ("fp32", "tf32", "bf16", "fp16", "fp8")


def hardware_from_catalog(catalog, *, gpu: str, server: str | None = None, fabric: str | None = None,
                          rails: int | None = None, gpus_per_node: int | None = None,
                          oversubscription: float = 1.0, nodes_per_leaf: int = 0,
                          measured_inter: CommFit | None = None,
                          measured_intra: CommFit | None = None,
                          measured_a2a: CommFit | None = None,
                          regime: str | None = None) -> tuple[Hardware, list[str]]:
    """`Hardware` for `gpu` in `server` (default: the first catalogue server that takes it)
    joined by `fabric` with `rails` NICs per node (default: one per GPU, capped by NIC slots),
    in load `regime` (default: the fabric family's, `regimes.DEFAULT`)."""
    acc = catalog.accelerator(gpu)
    srv = catalog.server(server) if server else _default_server(catalog, acc)
    if not srv.fits(acc):
        raise RaxError(f"{acc.name} does not fit server {srv.name}", field="server")
    g = gpus_per_node or srv.gpus_per_node
    if g > srv.gpus_per_node:
        raise RaxError(f"server {srv.name} holds {srv.gpus_per_node} GPUs, not {g}", field="gpus_per_node")
    peaks = {d: acc.peak_flops(d) for d in acc.dtypes if d in DTYPES}
    mamf = {d: acc.mamf_flops(d) for d in ("bf16", "fp8") if d in peaks}
    eff, notes = priors.efficiency_prior(acc.name, mamf=mamf, peaks=peaks)
    topo = srv.spec.scaleup_topology
    link = "pcie" if topo in ("pcie", "nvlink-bridge-pairs") else acc.spec.scaleup_link
    sc = priors.scaleup_eff(link)
    hw = Hardware(
        name=f"{acc.name} in {srv.name}", peak_flops=peaks, mem_bytes=acc.mem_bytes, mem_bw=acc.mem_bw_Bps,
        gpus_per_node=g, scaleup_bw=srv.scaleup_bw_Bps(acc), scaleup_eff=sc.value, eff=eff, scaleup_kind=topo,
        nccl_alpha_intra_s=priors.scalar("nccl", "alpha_intra_pcie_s" if link == "pcie" else "alpha_intra_s").value,
        nccl_alpha_inter_s=priors.scalar("nccl", "alpha_inter_s").value,
        nccl_base_s=priors.scalar("nccl", "base_s").value, family=acc.name,
        nccl_arch=nccl.arch_of(acc.name), cpu_vendor=cpu_vendor(srv.spec.cpu),
        measured_inter=measured_inter, measured_intra=measured_intra, measured_a2a=measured_a2a,
        oversubscription=oversubscription, nodes_per_leaf=nodes_per_leaf,
        **_fabric_fields(catalog, srv, fabric, rails, g, regime))
    notes = dict(notes)
    if sc.source is None:
        notes["scaleup"] = f"scale-up efficiency for {link} is an estimate: {sc.estimate}"
    return hw, list(notes.values())


def cpu_vendor(cpu: str) -> str:
    """'amd' when the server's CPU is an AMD EPYC, else 'intel' (NCCL's default row)."""
    return "amd" if "amd" in (cpu or "").lower() else "intel"


def _default_server(catalog, acc):
    servers = catalog.servers_for(acc)
    if not servers:
        raise RaxError(f"no catalogue server takes {acc.name}", field="server")
    return servers[0]


def fabric_regime(fab, regime: str | None = None) -> str:
    """The load regime of catalogue fabric `fab`: `regime` if it is one of the family's, else
    the family's default (InfiniBand adaptive, RoCE tuned, TCP tcp)."""
    fam = regimes.family_of(fab.spec.family, fab.spec.transport)
    allowed = regimes.for_family(fam)
    if regime is None:
        return allowed[0]
    if regime not in allowed:
        raise RaxError(f"{fab.name} ({fam}) runs in regime {', '.join(allowed)}, not {regime!r}", field="regime")
    return regime


def _fabric_fields(catalog, srv, fabric: str | None, rails: int | None, g: int, regime: str | None = None) -> dict:
    if fabric is None:
        return {}
    fab = catalog.fabric(fabric)
    n = rails if rails is not None else min(g, srv.nic_slots)
    if n < 1:
        raise RaxError(f"need at least one NIC rail per node, got {n}", field="rails")
    if n > srv.nic_slots:
        raise RaxError(f"{n} rails exceed the {srv.nic_slots} NIC slots of {srv.name}", field="rails")
    return {"rails_per_node": n, "rail_bw": fab.line_rate_Bps, "fabric_eff": fab.effective_fraction,
            "fabric_latency_s": fab.latency_s, "fabric": fab.name, "fabric_gdr": bool(fab.rdma and fab.gdr),
            "fabric_regime": fabric_regime(fab, regime)}
