"""Emulated fabrics on one machine: network namespaces, veth, a bridge and `tc tbf`.

Root only. Used by `rax bench comm --emulate RATE`, the A/B test's `emulate:RATE`
arms and the multi-node launch tests:

    with build_fabric(4, "1gbit") as fab:          # 4 namespaces, 1 gbit each way
        fab.exec_prefix(r)                         # ["ip", "netns", "exec", ns]
        fab.address(r), fab.ifname                 # where rank r lives

    with build("nodes=4,leaves=2,nic=1gbit,leaf=4:1", ranks=4) as fab:   # leaf-spine, tapered 4:1
        ...                                        # same interface (topology.py, tiers.py)

`build(emulate, ranks)` takes what `--emulate` takes: a rate, "unshaped", or a topology.
Rate only: this kernel has no sch_netem, so latency and loss are not emulated.
"""

from raxlab.netemu.cleanup import rax_namespaces, sweep_stale, terminate_as_interrupt
from raxlab.netemu.fabric import Fabric, build_fabric, qdisc_stats, require_netemu
from raxlab.netemu.shaping import DEFAULT_MTU, LATENCY_NOTE, Shaping, format_rate, parse_rate, shaping_for
from raxlab.netemu.topology import Topology, is_topology, parse_topology

UNSHAPED = "unshaped"  # namespaces and veths without tbf: the host's ceiling


def build(emulate: str, ranks: int, *, mtu: int | None = None) -> Fabric:
    """The fabric `--emulate` asks for: a link rate per rank, unshaped links, or a topology."""
    if is_topology(emulate):
        from raxlab.netemu.tiers import build_topology

        return build_topology(parse_topology(emulate, ranks), mtu=mtu or DEFAULT_MTU)
    return build_fabric(ranks, None if emulate == UNSHAPED else emulate, mtu=mtu or DEFAULT_MTU)


__all__ = [
    "Fabric", "build_fabric", "require_netemu", "qdisc_stats", "sweep_stale", "rax_namespaces",
    "terminate_as_interrupt", "Shaping", "shaping_for", "parse_rate", "format_rate", "LATENCY_NOTE",
    "build", "Topology", "is_topology", "parse_topology", "UNSHAPED",
]
