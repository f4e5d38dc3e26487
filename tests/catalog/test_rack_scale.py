"""Blackwell / Blackwell Ultra / MI325X parts and the rack-scale NVL72 node, checked by hand
against the published figures they were entered from (catalog-facts §1, §1a)."""

import pytest

from raxlab.catalog import consistency_issues, fabric_bom, load_catalog
from raxlab.errors import RaxError


@pytest.mark.parametrize("name, bf16, fp8, mem_gib, tdp, mamf_bf16", [
    ("gb200", 2500, 5000, 186, 1200, 1822.0),    # ml-engineering tables; MAMF 72.9 % of 2500
    ("gb300", 2500, 5000, 288, 1400, None),      # no published MAMF: generic prior
    ("b300-sxm", 2250, 4500, 270, 1100, 1769.0),
    ("mi325x", 1300, 2610, 256, 1000, 784.9),
])
def test_new_accelerators_are_dense_per_gpu_figures(cat, name, bf16, fp8, mem_gib, tdp, mamf_bf16):
    acc = cat.accelerator(name)
    assert acc.peak_flops("bf16") == bf16 * 1e12 and acc.peak_flops("fp8") == fp8 * 1e12
    assert acc.mem_bytes == mem_gib * 2**30 and acc.tdp_w == tdp
    assert acc.mamf_flops("bf16") == (None if mamf_bf16 is None else pytest.approx(mamf_bf16 * 1e12))
    assert acc.price_usd > 0 and acc.provenance("price_usd").basis == "estimate"


def test_nvlink5_parts_and_device_names(cat):
    for name in ("gb200", "gb300", "b300-sxm"):
        acc = cat.accelerator(name)
        assert acc.scaleup_bw_Bps == 900e9  # NVLink5: 18 links x 50 GB/s one way ("1.8 TB/s" both)
    assert cat.match_device("NVIDIA GB200").name == "gb200"
    assert cat.match_device("NVIDIA B300 SXM6 AC").name == "b300-sxm"
    assert cat.match_device("NVIDIA GB300").name == "gb300"
    assert cat.accelerator("mi325x").scaleup_bw_Bps == 448e9  # xGMI as MI300X: 7 x 64 GB/s


@pytest.mark.parametrize("server, acc, nic, gbit", [("gb200-nvl72", "gb200", "connectx-7-400g", 400),
                                                    ("gb300-nvl72", "gb300", "connectx-8-800g", 800)])
def test_nvl72_is_one_72_gpu_node_of_18_hosts(cat, server, acc, nic, gbit):
    srv, gpu = cat.server(server), cat.accelerator(acc)
    assert srv.gpus_per_node == 72 and srv.hosts_per_node == 18 and srv.gpus_per_host == 4
    assert srv.nic_slots == srv.nics_included == 72  # 18 trays x 4 NICs: one per GPU
    assert srv.spec.compute_nic == nic and cat.nic(nic).value("port_rate_gbit_s") == gbit
    assert srv.fits(gpu) and {s.name for s in cat.servers_for(gpu)} == {server}
    assert srv.power_w > 72 * gpu.tdp_w  # the rack budget includes CPUs, NVLink switch trays
    assert srv.node_price_usd(gpu) == srv.si("price_usd")  # priced as a rack
    assert 72 * gpu.value("mem_gib") == pytest.approx(13400 if acc == "gb200" else 20700, rel=0.01)  # NVIDIA's rack HBM
    assert srv.spec.node_leaf_link == "long"


def test_eight_gpu_servers_default_to_one_host(cat):
    for name in ("hgx-h200-8gpu", "hgx-b300-8gpu", "mi325x-8gpu-oam"):
        srv = cat.server(name)
        assert srv.gpus_per_node == 8 and srv.hosts_per_node == 1 and srv.gpus_per_host == 8
        assert srv.spec.node_leaf_link == "short"
    assert cat.server("hgx-b300-8gpu").spec.compute_nic == "connectx-8-800g"


def test_hosts_per_node_is_validated(write):
    with pytest.raises(RaxError, match="hosts_per_node: a node has at least one host"):
        load_catalog(write("servers:\n  - name: gb200-nvl72\n"
                           "    hosts_per_node: {value: 0, estimate: t, as_of: 2026-01-01}\n"))
    with pytest.raises(RaxError, match="hosts_per_node: must be a whole number"):
        load_catalog(write("servers:\n  - name: gb200-nvl72\n"
                           "    hosts_per_node: {value: 4.5, estimate: t, as_of: 2026-01-01}\n"))
    cat = load_catalog(write("servers:\n  - name: gb200-nvl72\n"
                             "    hosts_per_node: {value: 5, estimate: t, as_of: 2026-01-01}\n"))
    assert consistency_issues(cat) == ["server gb200-nvl72: hosts_per_node: 5 hosts cannot split 72 GPUs evenly"]


def test_rack_scale_nodes_reach_their_leaves_over_optics(cat):
    # 8 racks x 72 rails of NDR = 576 endpoints: two tiers of 64-port QM9700 (18 leaves, 16 spines)
    tree, lines = fabric_bom(cat, "ib-ndr", 8, 72, nics_included_per_server=72, node_link="long")
    by_role = {ln.role: ln for ln in lines}
    assert (tree.tiers, tree.leaves, tree.spines, tree.switches) == (2, 18, 16, 34)
    assert by_role["node-leaf link"].name == "optics-400g-link" and by_role["node-leaf link"].count == 576
    assert "nic" not in by_role  # the 72 ConnectX-7 are in the rack price
    _, short = fabric_bom(cat, "ib-ndr", 8, 72, nics_included_per_server=72)
    assert {ln.role: ln.name for ln in short}["node-leaf link"] == "dac-400g-osfp"
    with pytest.raises(RaxError, match="node_link must be short or long"):
        fabric_bom(cat, "ib-ndr", 8, 72, node_link="medium")
