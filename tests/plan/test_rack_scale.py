"""A 72-GPU NVLink domain (GB200 NVL72) in the planner: nodes are racks, one NIC per GPU, hosts
for the launcher, the rack price and optical node-leaf links in the CAPEX lines."""

import pytest


@pytest.fixture(scope="module")
def rack_plan(make_module):
    # megatron-1.7b (24 heads, 24 layers, global batch 512) fits 72 GPUs as tp 3 x pp 3 x dp 8;
    # a half-day deadline needs two racks, so the scale-out fabric is priced
    return make_module("megatron-1.7b", accelerators=("gb200",), fabrics=("ib-ndr",), max_nodes=4,
                       targets={"deadline_days": 0.4})


def test_rack_is_the_node_and_hosts_are_stated(rack_plan):
    rec = rack_plan["recommendation"]
    assert rec["server"] == "gb200-nvl72" and rec["gpus_per_node"] == 72 and rec["nodes"] >= 2
    assert rec["gpus"] == 72 * rec["nodes"] and rec["meets_targets"]
    assert (rec["hosts_per_node"], rec["gpus_per_host"]) == (18, 4)
    lay = rec["layout"]
    assert lay["tp"] * lay["pp"] * lay["dp"] == rec["gpus"] and lay["tp"] <= 72


def test_rack_capex_lines(rack_plan, catalog):
    rec = rack_plan["recommendation"]
    lines = {ln["item"]: ln for ln in rec["capex_breakdown"]}
    rack = lines["GPU server (with GPUs and bundled NICs)"]
    assert rack["name"] == "gb200-nvl72" and rack["count"] == rec["nodes"] and rack["unit_usd"] == 3.0e6
    link = lines["node-leaf link"]
    assert link["name"] == catalog.fabric(rec["fabric"]).spec.cable_long and link["count"] == rec["nodes"] * rec["rails"]
    assert rec["capex_usd"] == pytest.approx(sum(ln["total_usd"] for ln in rec["capex_breakdown"]))


def test_launch_files_start_hosts_not_racks(rack_plan, catalog):
    from raxlab.plan import artefacts
    from raxlab.plan.launch_target import from_plan

    rec = rack_plan["recommendation"]
    block = from_plan(rack_plan, None, catalog)
    assert (block["nodes"], block["gpus_per_node"]) == (rec["nodes"], 72)
    assert (block["hosts"], block["gpus_per_host"]) == (18 * rec["nodes"], 4)
    files = artefacts.render(block)
    assert f"#SBATCH --nodes={18 * rec['nodes']}" in files["train.sbatch"]
    assert "#SBATCH --gpus-per-node=4" in files["train.sbatch"] and "--nproc-per-node 4" in files["torchrun.sh"]
    assert f"--nnodes {18 * rec['nodes']} --nproc-per-node 4" in files["fabric-check.sh"]
