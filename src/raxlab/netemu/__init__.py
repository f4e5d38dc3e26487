"""Emulated fabrics on one machine: network namespaces, veth, a bridge and `tc tbf`.

Root only. Used by `rax bench comm --emulate RATE`, the A/B test's `emulate:RATE`
arms and the multi-node launch tests:

    with build_fabric(4, "1gbit") as fab:          # 4 namespaces, 1 gbit each way
        fab.exec_prefix(r)                         # ["ip", "netns", "exec", ns]
        fab.address(r), fab.ifname                 # where rank r lives

Rate only: this kernel has no sch_netem, so latency and loss are not emulated.
"""

from raxlab.netemu.cleanup import rax_namespaces, sweep_stale, terminate_as_interrupt
from raxlab.netemu.fabric import Fabric, build_fabric, qdisc_stats, require_netemu
from raxlab.netemu.shaping import LATENCY_NOTE, Shaping, format_rate, parse_rate, shaping_for

__all__ = [
    "Fabric", "build_fabric", "require_netemu", "qdisc_stats", "sweep_stale", "rax_namespaces",
    "terminate_as_interrupt", "Shaping", "shaping_for", "parse_rate", "format_rate", "LATENCY_NOTE",
]
