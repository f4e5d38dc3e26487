"""Build an emulated leaf-spine fabric (`topology.Topology`) from namespaces, veths and tbf.

Layout (names carry the run's prefix `rax-<pid>-<hex>`, as in `fabric`):

    <p>-n0 [rax0 10.77.0.1] ==nic== [p0]                          [l0]
    <p>-n1 [rax0 10.77.0.2] ==nic== [p1]  <p>-l0 (br0) [spine] ==uplink==  <p>-sp (br0)
    <p>-n2 [rax0 10.77.0.3] ==nic== [p2]  <p>-l1 (br0) [spine] ==uplink==  [l1]
    <p>-n3 [rax0 10.77.0.4] ==nic== [p3]
    <p>-bg0 [rax0 10.77.0.201] under l0, <p>-bg1 [.202] under l1      (optional background traffic)

Every link is shaped in both directions (tbf on each end's egress), so a leaf's uplink
queues everything its nodes send to the other leaves, and the spine's port queues
everything they receive: the nodes under a leaf share its uplink. The nodes' ranks
(several per node when `per_node` > 1) share the node's address and talk to each other
over the namespace's loopback. One L2 segment (a tree of bridges, no loops), one subnet.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field

from raxlab.netemu.fabric import _LIVE, IFNAME, SUBNET, Fabric, _add_ns, new_prefix, require_netemu, run_cmd
from raxlab.netemu.shaping import DEFAULT_MTU, Shaping, shaping_for
from raxlab.netemu.topology import Topology

BG_BASE = 200  # background namespaces get 10.77.0.201, .202: above every node address
BG_PORT = 29_700


@dataclass
class TopoFabric(Fabric):
    """A built leaf-spine fabric: rank r lives in node r // per_node."""

    topo: Topology | None = None
    uplink: Shaping | None = None
    procs: list = field(default_factory=list)  # background traffic processes

    def node_of(self, rank: int) -> int:
        return rank // self.topo.per_node

    def namespace(self, rank: int) -> str:
        return self.node_ns(self.node_of(rank))

    def node_ns(self, node: int) -> str:
        return f"{self.prefix}-n{node}"

    def leaf_ns(self, leaf: int) -> str:
        return f"{self.prefix}-l{leaf}"

    @property
    def bridge_ns(self) -> str:  # the leaf of node 0 (qdisc_stats reads rank ports there)
        return self.leaf_ns(0)

    @property
    def spine_ns(self) -> str:
        return f"{self.prefix}-sp"

    def address(self, rank: int) -> str:
        return f"{self.subnet}.{self.node_of(rank) + 1}"

    def describe(self) -> dict:
        t = self.topo
        return {"prefix": self.prefix, "ranks": self.ranks, "ifname": self.ifname,
                "addresses": [self.address(r) for r in range(self.ranks)],
                "topology": f"leaf-spine: {t.label()}", "tiers": t.to_dict(),
                "shaping": self.shaping.to_dict() if self.shaping else None,
                "uplink_shaping": self.uplink.to_dict() if self.uplink else None,
                "bottleneck_GBps": t.ring_bottleneck_bps() / 8e9,
                "background": {"rate": t.to_dict()["background"], "max_s": t.background_s,
                               "between": ["bg0 (leaf 0)", "bg1 (leaf 1)"], "both_ways": True}
                if t.background_bps else None}

    def shape_key(self) -> tuple:
        t = self.topo
        return ("leaf-spine", t.nodes, t.per_node, t.leaves, t.uplink_bps is not None, t.background_bps)

    def tiers(self) -> dict[str, Shaping | None]:
        return {"nic": self.shaping, "uplink": self.uplink}

    def tier_queues(self, tier: str) -> list[tuple[str, str]]:
        t = self.topo
        if tier == "nic":
            return [q for n in range(t.nodes) for q in ((self.node_ns(n), self.ifname), (self.leaf_ns(t.leaf_of(n)), f"p{n}"))]
        return [q for j in range(t.leaves) for q in ((self.leaf_ns(j), "spine"), (self.spine_ns, f"l{j}"))]

    def _set_tier(self, tier: str, shaping: Shaping) -> None:
        import dataclasses

        if tier == "nic":
            self.shaping = shaping
            self.topo = dataclasses.replace(self.topo, nic_bps=shaping.rate_bps)
        else:
            self.uplink = shaping
            self.topo = dataclasses.replace(self.topo, uplink_bps=shaping.rate_bps)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)
        self.procs = []
        super().close()


def build_topology(topo: Topology, *, mtu: int = DEFAULT_MTU, prefix: str | None = None) -> TopoFabric:
    """Build the namespaces, bridges and shaped links of `topo`; removed again on any failure."""
    require_netemu()
    fab = TopoFabric(prefix or new_prefix(), topo.ranks, shaping_for(topo.nic_bps, mtu), topo=topo,
                     uplink=shaping_for(topo.uplink_bps, mtu) if topo.uplink_bps else None)
    _LIVE[fab.prefix] = fab
    try:
        if topo.uplink_bps:
            _bridge(fab, fab.spine_ns)
        for leaf in range(topo.leaves):
            _bridge(fab, fab.leaf_ns(leaf))
            if topo.uplink_bps:
                _link(fab.leaf_ns(leaf), "spine", fab.spine_ns, f"l{leaf}", fab.uplink, mtu)
        for node in range(topo.nodes):
            _endpoint(fab, fab.node_ns(node), topo.leaf_of(node), f"p{node}", f"{SUBNET}.{node + 1}", fab.shaping, mtu)
        if topo.background_bps:
            _background(fab, mtu)
    except BaseException:
        fab.close()
        raise
    return fab


def _bridge(fab: Fabric, ns: str) -> None:
    _add_ns(fab, ns)
    run_cmd("ip", "-n", ns, "link", "add", "br0", "type", "bridge")
    run_cmd("ip", "-n", ns, "link", "set", "br0", "up")


def _link(ns_a: str, dev_a: str, ns_b: str, dev_b: str, shaping: Shaping | None, mtu: int,
          bridge_a: bool = True) -> None:
    """A veth from `ns_a` (dev_a) to the bridge of `ns_b` (dev_b), shaped on both egresses."""
    run_cmd("ip", "-n", ns_b, "link", "add", dev_b, "mtu", str(mtu), "type", "veth",
            "peer", "name", dev_a, "mtu", str(mtu), "netns", ns_a)
    run_cmd("ip", "-n", ns_b, "link", "set", dev_b, "master", "br0", "up")
    if bridge_a:
        run_cmd("ip", "-n", ns_a, "link", "set", "dev", dev_a, "master", "br0")
    run_cmd("ip", "-n", ns_a, "link", "set", "dev", dev_a, "up")
    if shaping is not None:
        run_cmd("tc", "-n", ns_a, "qdisc", "add", "dev", dev_a, "root", *shaping.tbf_args())
        run_cmd("tc", "-n", ns_b, "qdisc", "add", "dev", dev_b, "root", *shaping.tbf_args())


def _endpoint(fab: TopoFabric, ns: str, leaf: int, port: str, addr: str, shaping: Shaping, mtu: int) -> None:
    _add_ns(fab, ns)
    _link(ns, IFNAME, fab.leaf_ns(leaf), port, shaping, mtu, bridge_a=False)
    run_cmd("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", IFNAME)


def _background(fab: TopoFabric, mtu: int) -> None:
    """Two namespaces, one under leaf 0 and one under the last leaf, streaming TCP both ways at
    most at the background rate (their own links are shaped to it) for at most background_s."""
    t = fab.topo
    shaping = shaping_for(t.background_bps, mtu)
    names, addrs = [f"{fab.prefix}-bg0", f"{fab.prefix}-bg1"], [f"{SUBNET}.{BG_BASE + 1}", f"{SUBNET}.{BG_BASE + 2}"]
    for i, leaf in enumerate((0, t.leaves - 1)):
        _endpoint(fab, names[i], leaf, f"b{i}", addrs[i], shaping, mtu)
    for i in (0, 1):  # a sink in each, then a source towards the other one
        fab.procs.append(_spawn(names[i], ["sink", addrs[i], str(BG_PORT), str(t.background_s + 5)]))
    time.sleep(0.3)  # let the sinks listen before the sources connect
    for i in (0, 1):
        fab.procs.append(_spawn(names[i], ["source", addrs[1 - i], str(BG_PORT), str(t.background_s)]))


def _spawn(ns: str, args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "raxlab.netemu.traffic", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
