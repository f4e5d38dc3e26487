"""Costs: switch counts and prices as the catalogue's fat-tree BOM, CAPEX lines that add up,
power and energy by hand."""

import math

import pytest

from raxlab.catalog import fabric_bom
from raxlab.plan.cost import network


@pytest.mark.parametrize("fabric, nodes, rails", [("ib-ndr", 128, 8), ("roce-400", 3, 2), ("tcp-25", 64, 1),
                                                  ("ib-hdr", 1024, 8)])
def test_network_is_the_fabric_bom(catalog, fabric, nodes, rails):
    capex, power, ru, tree = network(catalog, fabric, nodes * rails, 1.0, {})
    ref_tree, lines = fabric_bom(catalog, fabric, nodes, rails, nics_included_per_server=rails)
    assert tree.switches == ref_tree.switches and tree.switch_links == ref_tree.switch_links
    assert capex == pytest.approx(sum(ln.price_usd for ln in lines))
    assert power == pytest.approx(sum(ln.count * (ln.unit_power_w or 0) for ln in lines))


def test_long_node_links_are_the_fabric_bom(catalog):
    # a rack-scale node (NVL72) reaches its leaves over the fabric's long (optical) link
    capex, power, _, tree = network(catalog, "ib-xdr", 4 * 72, 1.0, {}, "long")
    _, lines = fabric_bom(catalog, "ib-xdr", 4, 72, nics_included_per_server=72, node_link="long")
    assert {ln.role: ln.name for ln in lines}["node-leaf link"] == "optics-800g-link"
    assert capex == pytest.approx(sum(ln.price_usd for ln in lines))
    assert power == pytest.approx(sum(ln.count * (ln.unit_power_w or 0) for ln in lines))
    assert capex > network(catalog, "ib-xdr", 4 * 72, 1.0, {})[0]  # optics cost more than DAC


def test_1024_gpus_of_ndr_is_the_published_48_switches(catalog):
    # catalog-facts.md §3d (S46): a 1,024-GPU NDR fat-tree is 32 leaf + 16 spine Quantum-2 switches
    assert network(catalog, "ib-ndr", 1024, 1.0, {})[3].switches == 48


@pytest.fixture(scope="module")
def plan(catalog, cards):
    from raxlab.plan.entry import with_targets
    from raxlab.plan.planner import PlanOptions, make_plan
    from raxlab.plan.space import SpaceOptions

    spec, card = cards("megatron-1.7b")
    spec = with_targets(spec, ["deadline_days=3", "electricity_usd_per_kwh=0.1", "pue=1.25", "tco_years=4"])
    opts = PlanOptions(space=SpaceOptions(accelerators=("h100-sxm",), fabrics=("tcp-100", "ib-ndr")))
    return make_plan(spec, card, catalog, options=opts)


def test_capex_lines_add_up_and_carry_their_labels(plan):
    rec = plan["recommendation"]
    lines = rec["capex_breakdown"]
    assert sum(ln["total_usd"] for ln in lines) == pytest.approx(rec["capex_usd"], rel=1e-9)
    assert {ln["label"] for ln in lines} <= {"catalogue", "estimate", "override"}
    assert all(ln["source"] and ln["as_of"] for ln in lines)
    assert lines[0]["name"] == "hgx-h100-8gpu" and lines[0]["unit_usd"] == 310_000  # the quoted bundle


def test_power_and_energy_by_hand(plan, catalog):
    rec = plan["recommendation"]
    n = rec["nodes"]
    srv, acc = catalog.server("hgx-h100-8gpu"), catalog.accelerator("h100-sxm")
    gpu_w, host_w = 8 * acc.tdp_w, srv.power_w - 8 * acc.tdp_w
    _, lines = fabric_bom(catalog, rec["fabric"], n, rec["rails"])
    net_w = sum(ln.count * (ln.unit_power_w or 0) for ln in lines if ln.kind != "nic")
    it = n * (gpu_w * 0.8 + host_w * 0.6) + net_w
    assert rec["it_power_kw"] == pytest.approx(it / 1e3)
    assert rec["it_peak_kw"] == pytest.approx((n * srv.power_w + net_w) / 1e3)
    energy = it * 1.25 / 1e3 * 365.25 * 24 * 4 * 0.1
    assert rec["energy_usd"] == pytest.approx(energy) and rec["tco_usd"] == pytest.approx(rec["capex_usd"] + energy)
    per_mtok = rec["tco_usd"] / (rec["tokens_per_s"] * 4 * 365.25 * 86400) * 1e6
    assert rec["cost_per_unit"] == pytest.approx(per_mtok) and rec["cost_per_unit_label"] == "USD per million tokens"


def test_bundled_nics_a_fabric_cannot_use_are_credited(plan):
    rows = {r["fabric"]: r for r in plan["verdicts"]["network"]["rows"]}
    assert set(rows) == {"tcp-100", "ib-ndr"}
    if plan["recommendation"]["fabric"] == "tcp-100":
        lines = plan["recommendation"]["capex_breakdown"]
        credit = next(ln for ln in lines if ln["item"].startswith("credit"))
        assert credit["name"] == "connectx-7-400g" and credit["unit_usd"] < 0
    assert math.isfinite(rows["tcp-100"]["capex_delta_usd"])
