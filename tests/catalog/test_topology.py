"""Fat-tree sizing against hand-computed examples (arithmetic in the comments)."""

import pytest

from raxlab.catalog import fabric_bom, fat_tree
from raxlab.errors import RaxError

NDR = 400e9 / 8  # one 400 Gb/s link, one direction, in B/s = 50e9


def test_128_servers_8_rails_400g_radix64_nonblocking():
    # E = 128 x 8 = 1024 endpoints. 1:1 -> each 64-port leaf: 32 down, 32 up.
    # Leaves = 1024 / 32 = 32 <= 64, so two tiers.
    # Uplinks = 32 x 32 = 1024; each leaf gives m links to each spine with 32 x m <= 64 -> m = 2,
    # spines = 32 / 2 = 16 (each uses 32 x 2 = 64 ports). Switches 32 + 16 = 48: the same
    # 32 leaf + 16 spine as the 1,024-GPU NDR design in catalog-facts §3d.
    # Bisection = min(1024, 1024) / 2 = 512 links x 50 GB/s = 25.6 TB/s (204.8 Tb/s).
    t = fat_tree(128, 8, 64, 1, link_rate_Bps=NDR)
    assert (t.tiers, t.leaves, t.spines, t.cores, t.switches) == (2, 32, 16, 0, 48)
    assert (t.leaf_down, t.leaf_up) == (32, 32)
    assert (t.links_node_leaf, t.links_leaf_spine, t.switch_links) == (1024, 1024, 1024)
    assert t.bisection_Bps == 512 * 50e9 == 25.6e12
    assert t.oversubscription_built == 1


def test_128_servers_8_rails_400g_radix64_1to3():
    # 1:3 -> leaf 48 down, 16 up (48/16 = 3). Leaves = ceil(1024 / 48) = ceil(21.33) = 22.
    # Uplinks = 22 x 16 = 352; m with 22 x m <= 64 and m | 16 -> m = 2 (22 x 2 = 44 ports per
    # spine), spines = 16 / 2 = 8. Switches 22 + 8 = 30.
    # Bisection = min(1024, 352) / 2 = 176 links x 50 GB/s = 8.8 TB/s; built ratio 1024/352 = 2.91
    # (the last leaf holds 1024 - 21 x 48 = 16 endpoints only).
    t = fat_tree(128, 8, 64, 3, link_rate_Bps=NDR)
    assert (t.tiers, t.leaves, t.spines, t.switches) == (2, 22, 8, 30)
    assert (t.leaf_down, t.leaf_up) == (48, 16)
    assert (t.links_node_leaf, t.links_leaf_spine) == (1024, 352)
    assert t.bisection_Bps == 176 * 50e9 == 8.8e12
    assert t.oversubscription_built == pytest.approx(1024 / 352)


def test_rail_optimised_keeps_each_rail_on_its_own_leaves():
    # 1:3 rail-optimised: per rail 128 NICs / 48 down ports = ceil(2.67) = 3 leaves, x 8 rails
    # = 24 leaves (two more than the mixed design). Uplinks 24 x 16 = 384; 24 x m <= 64 -> m = 2,
    # spines 16 / 2 = 8. Bisection = 384 / 2 = 192 links x 50 GB/s = 9.6 TB/s.
    t = fat_tree(128, 8, 64, 3, rail_optimized=True, link_rate_Bps=NDR)
    assert (t.leaves, t.spines, t.switches, t.links_leaf_spine) == (24, 8, 32, 384)
    assert t.bisection_Bps == 9.6e12
    # At 1:1 rail-optimised is free: 128 / 32 = 4 leaves per rail x 8 = 32, as before.
    assert fat_tree(128, 8, 64, 1, rail_optimized=True).switches == 48


def test_three_tiers_when_leaves_exceed_the_radix():
    # 1024 servers x 8 rails = 8192 endpoints, 1:1 -> 256 leaves > 64: three tiers.
    # Spines split 32 down / 32 up. A pod = 32 leaves + 32 spines (one link leaf->pod spine):
    # pods = 256 / 32 = 8, spines = 8 x 32 = 256. Each pod has 32 x 32 = 1024 uplinks; core
    # switches take mc links per pod with 8 x mc <= 64 -> mc = 8, cores = 1024 / 8 = 128.
    # Switches 256 + 256 + 128 = 640 (= 1/8 of the k=64 fat-tree's 5k^2/4 = 5120).
    # Links: 8192 node-leaf, 256 x 32 = 8192 leaf-spine, 8 x 1024 = 8192 spine-core.
    t = fat_tree(1024, 8, 64, 1, link_rate_Bps=NDR)
    assert (t.tiers, t.pods, t.leaves, t.spines, t.cores, t.switches) == (3, 8, 256, 256, 128, 640)
    assert (t.links_node_leaf, t.links_leaf_spine, t.links_spine_core) == (8192, 8192, 8192)
    assert t.bisection_Bps == 4096 * 50e9  # full bisection


def test_full_k_ary_fat_tree_and_its_limit():
    # Al-Fares et al.: k = 8 -> k^3/4 = 128 hosts, 5k^2/4 = 80 switches.
    t = fat_tree(128, 1, 8, 1)
    assert (t.tiers, t.leaves, t.spines, t.cores, t.switches) == (3, 32, 32, 16, 80)
    with pytest.raises(RaxError, match="more than three tiers"):
        fat_tree(129, 1, 8, 1)


def test_core_oversubscription_meta_style():
    # Meta's Llama 3 RoCE cluster: 1:7 at the aggregation layer (catalog-facts §4).
    # 8192 endpoints, radix 64, leaf 1:1, spine 56 down / 8 up (56/8 = 7):
    # pod = 56 leaves + 32 spines; pods = ceil(256 / 56) = 5; spines = 160;
    # pod uplinks 32 x 8 = 256; 5 x mc <= 64 and mc | 256 -> mc = 8; cores = 256 / 8 = 32.
    t = fat_tree(1024, 8, 64, 1, core_oversubscription=7, link_rate_Bps=NDR)
    assert (t.pods, t.spines, t.cores, t.links_spine_core) == (5, 160, 32, 1280)
    assert t.bisection_links == 1280 / 2  # the core is the narrowest cut


def test_small_clusters_fit_one_switch():
    t = fat_tree(4, 8, 64, 3, link_rate_Bps=NDR)
    assert (t.tiers, t.switches, t.switch_links) == (1, 1, 0)
    assert t.bisection_Bps == 16 * 50e9


@pytest.mark.parametrize("args, field", [
    ((0, 8, 64, 1), "servers"), ((4, 8, 2, 1), "radix"), ((128, 8, 64, 0.5), "oversubscription"),
])
def test_bad_arguments(args, field):
    with pytest.raises(RaxError, match=field):
        fat_tree(*args)


def test_bisection_needs_a_rate():
    with pytest.raises(RaxError, match="link_rate_Bps"):
        fat_tree(128, 8, 64).bisection_Bps


def test_fabric_bom_uses_the_fabric_parts(cat):
    tree, bom = fabric_bom(cat, "ib-ndr", 128, 8, 1)
    lines = {ln.role: ln for ln in bom}
    assert tree.switches == 48 and tree.bisection_Bps == 25.6e12
    assert (lines["switch"].name, lines["switch"].count) == ("qm9700", 48)
    assert (lines["nic"].name, lines["nic"].count) == ("connectx-7-400g", 1024)
    assert lines["node-leaf link"].count == 1024 and lines["switch-switch link"].count == 1024
    assert lines["switch"].price_usd == 48 * 50000 and lines["switch"].price_label == "catalogue"
    # The HGX price already includes its 8 NICs: none to add.
    _, bom = fabric_bom(cat, "ib-ndr", 128, 8, 1, nics_included_per_server=8)
    assert "nic" not in {ln.role for ln in bom}
    # RoCE at 200G on 400G Spectrum-4 ports split in two: radix 128.
    tree, _ = fabric_bom(cat, "roce-200", 128, 8, 1)
    assert tree.radix == 128 and tree.leaves == 16
