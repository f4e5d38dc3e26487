"""Emulated leaf-spine topologies: the spec grammar, and (root) a tapered uplink shared by two nodes."""

import os
import subprocess
import sys
import time

import pytest

from raxlab.errors import RaxError
from raxlab.netemu import build, is_topology, parse_topology, rax_namespaces
from raxlab.netemu.cleanup import NS_RE

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def test_two_of_nic_uplink_and_ratio_give_the_third():
    t = parse_topology("nodes=4,leaves=2,nic=1gbit,leaf=4:1")
    assert (t.nodes_per_leaf, t.uplink_bps, t.oversubscription) == (2, 0.5e9, 4.0)
    t = parse_topology("leaf=2:1,uplink=2gbit", ranks=4)  # nodes from --ranks, 2 leaves by default
    assert (t.nodes, t.leaves, t.nic_bps, t.oversubscription) == (4, 2, 2e9, 2.0)
    t = parse_topology("nodes=2,per_node=2,leaves=2,nic=1gbit")  # nic alone: non-blocking leaves
    assert (t.ranks, t.uplink_bps, t.oversubscription, t.ring_bottleneck_bps()) == (4, 1e9, 1.0, 1e9)
    assert t.capacity_bps == 2 * 1e9 + 2 * 1e9 and "2 ranks" in t.label()
    assert parse_topology("nodes=3,nic=1gbit").uplink_bps is None  # one leaf, no spine
    assert is_topology("leaf=2:1") and is_topology("t.yaml") and not is_topology("1gbit")


def test_fair_share_busbw_bounds_by_hand():
    flat, taper = parse_topology("nodes=4,leaves=2,nic=1gbit"), parse_topology("nodes=4,leaves=2,nic=1gbit,leaf=4:1")
    assert flat.busbw_bound_bps("all_reduce") == 1e9 and taper.busbw_bound_bps("all_reduce") == 0.5e9
    # all-to-all, 4 ranks: a NIC carries 3/4 S -> busbw <= nic; a leaf's uplink 2 x 2 x S/4 = S -> 3/4 x uplink
    assert flat.busbw_bound_bps("all_to_all") == pytest.approx(1e9)
    assert taper.busbw_bound_bps("all_to_all") == pytest.approx(0.75 * 0.5e9)


def test_a_yaml_topology_file_has_the_same_strict_keys(tmp_path):
    f = tmp_path / "topo.yaml"
    f.write_text("nodes: 4\nleaves: 2\nnic: 1gbit\nleaf: '4:1'\n")
    assert parse_topology(str(f)).uplink_bps == 0.5e9
    f.write_text("nodes: 4\nlinks: 2\n")
    with pytest.raises(RaxError, match="unknown topology key 'links'.*Known: .*leaves"):
        parse_topology(str(f))


@pytest.mark.parametrize("spec,ranks,msg", [
    ("nodes=4,leaves=2", None, "two of nic, uplink and leaf"),
    ("nodes=3,leaves=2,nic=1gbit", None, "split evenly"),
    ("nodes=4,nic=1gbit,uplink=1gbit,leaf=4:1", None, "disagree"),
    ("nodes=2,nic=1gbit", 4, "--ranks is 4"),
    ("nodes=2,leaves=1,nic=1gbit,uplink=1gbit", None, "need a spine"),
    ("nodes=2,leaves=2,nic=1gbps", None, "bad link rate"),
    ("nodes=2,leaves=2,nic=1gbit,leaf=0:1", None, "oversubscription"),
    ("nodes=2,nic=1gbit,background=100mbit", None, "leaves >= 2"),
    ("nodes=two,nic=1gbit", None, "whole number"),
    ("nodes=2,nic", None, "KEY=VALUE"),
])
def test_bad_topologies_are_one_line_errors(spec, ranks, msg):
    with pytest.raises(RaxError, match=msg):
        parse_topology(spec, ranks)


def test_namespace_names_are_swept_by_owner_pid():
    for tail in ("n0", "l1", "sp", "bg0", "r3", "br"):
        assert NS_RE.match(f"rax-123-abcdef-{tail}")
    assert not NS_RE.match("rax-123-abcdef-x0")


def _stream(fab, rank: int, dest: str, port: int, seconds: float) -> subprocess.Popen:
    code = ("import socket,sys,time;c=socket.create_connection((sys.argv[1],int(sys.argv[2])));b=bytes(1<<20);"
            "t=time.monotonic()+float(sys.argv[3])\nwhile time.monotonic()<t: c.sendall(b)")
    return subprocess.Popen(fab.exec_prefix(rank) + [sys.executable, "-c", code, dest, str(port), str(seconds)])


def _sink(fab, rank: int, port: int) -> subprocess.Popen:
    code = ("import socket,sys,time;s=socket.socket();s.bind((sys.argv[1],int(sys.argv[2])));s.listen();"
            "c,_=s.accept();n=0;t0=None\nwhile True:\n d=c.recv(1<<20)\n if not d: break\n"
            " t0=t0 or time.monotonic();n+=len(d)\nprint(n/(time.monotonic()-t0))")
    return subprocess.Popen(fab.exec_prefix(rank) + [sys.executable, "-c", code, fab.address(rank), str(port)],
                            stdout=subprocess.PIPE, text=True)


@pytest.mark.root
@pytest.mark.skipif(not ROOT, reason="network namespaces and tc need root")
def test_two_nodes_share_a_tapered_uplink_fairly():
    """Nodes 0 and 1 (leaf 0) each stream to a node of leaf 1 through a 4:1 uplink of 100 mbit:
    together they get the uplink's rate, not the 2 x 200 mbit of their NICs, and neither starves
    (TCP over one drop-tail queue shares it, though not evenly within 2 s: 27/75 mbit seen)."""
    with build("nodes=4,leaves=2,nic=200mbit,leaf=4:1", ranks=4) as fab:
        assert fab.describe()["tiers"]["uplink"] == "100mbit"
        assert {f"{fab.prefix}-{t}" for t in ("n0", "n3", "l0", "l1", "sp")} <= set(rax_namespaces())
        qd = subprocess.run(["tc", "-n", fab.leaf_ns(0), "qdisc", "show", "dev", "spine"], capture_output=True,
                            text=True).stdout
        assert "tbf" in qd and "rate 100Mbit" in qd
        sinks = [_sink(fab, 2, 29_811), _sink(fab, 3, 29_812)]
        time.sleep(0.5)
        srcs = [_stream(fab, 0, fab.address(2), 29_811, 2.0), _stream(fab, 1, fab.address(3), 29_812, 2.0)]
        for p in srcs:
            p.wait(20)
        rates = [float(s.communicate(timeout=20)[0]) * 8 for s in sinks]  # bit/s
        prefix = fab.prefix
    assert 0.8e8 < sum(rates) < 1.1e8, rates  # the shared 100 mbit uplink, not 2 x 200 mbit
    assert min(rates) > 0.15e8, rates  # both flows through the one uplink
    assert not [n for n in rax_namespaces() if n.startswith(prefix)]


@pytest.mark.root
@pytest.mark.skipif(not ROOT, reason="network namespaces and tc need root")
def test_fabrics_of_one_shape_swap_rates_in_place():
    """What the A/B crossover does: the taper's rates onto the flat fabric's queues, and back."""
    with build("nodes=2,leaves=2,nic=1gbit", ranks=2) as flat, build("nodes=2,leaves=2,nic=1gbit,leaf=4:1", ranks=2) as taper:
        assert flat.shape_key() == taper.shape_key()
        flat.reshape(taper.tiers())
        for ns, dev in flat.tier_queues("uplink"):
            shown = subprocess.run(["tc", "-n", ns, "qdisc", "show", "dev", dev], capture_output=True, text=True).stdout
            assert "rate 250Mbit" in shown, shown
        assert flat.describe()["tiers"]["uplink"] == "250mbit" and flat.tiers()["nic"] == taper.tiers()["nic"]
    with build("2gbit", ranks=2) as links:
        links.reshape({"link": taper.tiers()["nic"]})
        ns, dev = links.tier_queues("link")[1]
        assert "rate 1Gbit" in subprocess.run(["tc", "-n", ns, "qdisc", "show", "dev", dev], capture_output=True,
                                              text=True).stdout
        with pytest.raises(RaxError, match="shaped and unshaped"):
            links.reshape({"link": None})


@pytest.mark.root
@pytest.mark.skipif(not ROOT, reason="network namespaces and tc need root")
def test_background_traffic_crosses_the_spine_bounded_by_its_rate_and_time():
    with build("nodes=2,leaves=2,nic=1gbit,background=50mbit,background_s=3", ranks=2) as fab:
        assert fab.describe()["background"]["rate"] == "50mbit" and len(fab.procs) == 4

        def sent() -> int:
            out = subprocess.run(["tc", "-s", "-n", fab.leaf_ns(0), "qdisc", "show", "dev", "spine"],
                                 capture_output=True, text=True).stdout.split()
            return int(out[out.index("Sent") + 1])

        time.sleep(1.0)
        a, t0 = sent(), time.monotonic()
        time.sleep(1.0)
        rate = (sent() - a) * 8 / (time.monotonic() - t0)
        assert 0.2e8 < rate < 0.6e8, rate  # the background source's own 50 mbit link bounds it
        procs = list(fab.procs)
    assert all(p.poll() is not None for p in procs)  # the fabric's removal ended them
