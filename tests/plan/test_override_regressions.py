"""Plans over user override parts that the built-in catalogue never exercises."""

from pathlib import Path

from raxlab.catalog import load_catalog
from raxlab.plan.entry import plan_workload
from raxlab.plan.planner import PlanOptions
from raxlab.plan.space import SpaceOptions

OVERRIDE = Path(__file__).parent / "data" / "lab_override.yaml"


def test_every_fabric_pruned_gives_a_one_node_closest_option_not_a_crash():
    # the emulated fabric's 1 Gb/s line rate has no switch port speed: every multi-node option is pruned
    cat = load_catalog(OVERRIDE)
    opts = PlanOptions(space=SpaceOptions(accelerators=("lab-cpu",), servers=("lab-node",),
                                          fabrics=("emulated-1gbit",)))
    plan = plan_workload("tiny-lm", cat, targets=["deadline_hours=0.5"], options=opts)
    rec = plan["recommendation"]
    assert rec["nodes"] == 1 and rec["fabric"] is None and not rec["meets_targets"]
    assert "No scale-out fabric in the search can join these servers" in plan["verdicts"]["network"]["sentence"]
    assert plan["pruned"]["hardware"]["no switch for the fabric's line rate"] > 0
    assert plan["verdicts"]["scale"]["sentence"].startswith("Even 1 node gives")
