"""Candidate hardware: what is built, what is pruned and why, and the fabric numbers it uses."""

from dataclasses import replace

import pytest

from raxlab.plan.space import RAILS, SINGLE_NODE, SpaceOptions, build_space, node_ladder
from raxlab.predict.adapter import hardware_from_catalog
from raxlab.predict.hardware import hw_consts


def test_pruning_reasons_are_counted_per_hardware_option(catalog):
    opts = SpaceOptions(accelerators=("a100-sxm-80gb", "gaudi3", "l40s"), fabrics=("ib-ndr", "roce-200"), max_nodes=4)
    space = build_space(catalog, ["bf16", "fp8"], opts)
    nodes = len(space.nodes) - 1  # multi-node counts (1, 2, 3, 4 -> 3)
    # A100 has no fp8: one base pruned, standing for 1 single-node + nodes x fabrics x rails options.
    assert space.pruned["unsupported precision"] >= 1 + nodes * 2 * len(RAILS)
    # Gaudi 3's NICs are on the chip: it cannot join InfiniBand (rails 1, 2, 4, 8 and its 24 ports x 2
    # precisions x 3 node counts).
    assert space.pruned["built-in NICs cannot join this fabric"] == (len(RAILS) + 1) * 2 * nodes
    # PCIe servers have 1-4 NIC slots: 8 rails do not fit.
    assert space.pruned["more rails than NIC slots"] > 0
    gaudi = space.variants[("gaudi3", "gaudi3-8acc-oam")]
    assert {v.fabric for v in gaudi} == {"roce-200"} and max(v.rails for v in gaudi) == 24  # its 24 on-chip ports
    assert all(v.rails <= 4 for (acc, srv), vs in space.variants.items() if srv == "pcie-8gpu-gen5" for v in vs)


def test_fabric_numbers_are_the_adapters(catalog):
    space = build_space(catalog, ["bf16"], SpaceOptions(accelerators=("h100-sxm",), fabrics=("roce-400", "tcp-100")))
    base = space.bases[0]
    for v in space.variants[base.pair]:
        hw, _ = hardware_from_catalog(catalog, gpu="h100-sxm", server=base.srv.spec.name, fabric=v.fabric, rails=v.rails)
        assert base.consts(v) == hw_consts(hw, "bf16")
    assert base.consts(SINGLE_NODE) == hw_consts(base.hw, "bf16")


def test_bundled_nics_are_used_when_the_fabric_runs_on_them(catalog):
    space = build_space(catalog, ["bf16"], SpaceOptions(accelerators=("h100-sxm",), fabrics=("ib-ndr", "tcp-100")))
    by = {(v.fabric, v.rails): v for v in space.variants[("h100-sxm", "hgx-h100-8gpu")]}
    ib, tcp = by[("ib-ndr", 4)], by[("tcp-100", 8)]
    assert (ib.nic, ib.nics_usable, ib.nics_unused) == ("connectx-7-400g", 4, 4)
    assert (tcp.nic, tcp.nics_usable, tcp.nics_unused) == ("generic-eth-100g", 0, 8)


def test_a_measured_fabric_replaces_its_efficiency_and_latency(catalog):
    from raxlab.plan.measured import FabricFit

    fit = FabricFit("tcp-100", efficiency=0.9, alpha_step_s=50e-6, busbw_Bps=0, ranks=2, run_id="r", source="measured")
    space = build_space(catalog, ["bf16"], SpaceOptions(accelerators=("h100-sxm",), fabrics=("tcp-100",)),
                        fabric_fits={"tcp-100": fit})
    base = space.bases[0]
    v = next(v for v in space.variants[base.pair] if v.rails == 2)
    c = base.consts(v)
    assert v.comm_label == "measured"
    assert c.inter_bw == pytest.approx(2 * 100e9 / 8 * 0.9 / 8) and c.alpha_inter == 50e-6
    prior = base.consts(replace(v, measured=None))
    assert prior.inter_bw == pytest.approx(2 * 100e9 / 8 * 0.45 / 8)


def test_node_ladder():
    assert node_ladder(10) == (1, 2, 3, 4, 6, 8, 10)
    assert node_ladder(16)[-1] == 16
