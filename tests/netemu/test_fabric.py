"""Emulated fabrics: rates, tbf parameters, build, teardown, isolation of concurrent runs."""

import os
import subprocess
import sys

import pytest

from raxlab.errors import RaxError
from raxlab.netemu import build_fabric, parse_rate, rax_namespaces, require_netemu, shaping_for, sweep_stale
from raxlab.netemu import fabric as fabric_mod

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = [pytest.mark.root, pytest.mark.skipif(not ROOT, reason="network namespaces and tc need root")]


def test_rates_are_si_bits_like_tc():
    assert parse_rate("1gbit") == 1e9 and parse_rate("2.5gbit") == 2.5e9
    assert parse_rate("500mbit") == 5e8 and parse_rate("1g") == 1e9
    for bad in ("1gbps", "fast", "1GB/s", "0.1mbit"):
        with pytest.raises(RaxError, match="--emulate"):
            parse_rate(bad)


def test_tbf_bucket_scales_with_rate_and_holds_gso_packets():
    one, ten = shaping_for("1gbit"), shaping_for("10gbit")
    assert one.rate_GBps == 0.125
    assert one.burst_bytes >= 128 * 1024  # two 64 KiB GSO super-packets
    assert ten.burst_bytes >= 1_000_000  # measured here: >= 1 mb needed at 10 gbit
    assert one.limit_bytes > one.burst_bytes and ten.limit_bytes > ten.burst_bytes
    assert shaping_for("1gbit").tbf_args()[:3] == ["tbf", "rate", "1000000000bit"]
    assert "latency not emulated" in one.to_dict()["note"]


def test_not_root_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(RaxError, match="need root"):
        require_netemu()


def _exchange(fab, server: int, client: int) -> str:
    """A TCP round trip from rank `client` to rank `server` across the bridge."""
    code = ("import socket,sys;s=socket.socket();s.bind((sys.argv[1],0));s.listen();print(s.getsockname()[1],"
            "flush=True);c,_=s.accept();c.sendall(c.recv(5)[::-1])")
    srv = subprocess.Popen(fab.exec_prefix(server) + [sys.executable, "-c", code, fab.address(server)],
                           stdout=subprocess.PIPE, text=True)
    port = srv.stdout.readline().strip()
    cli = ("import socket,sys;c=socket.create_connection((sys.argv[1],int(sys.argv[2])));c.sendall(b'hello');"
           "print(c.recv(5).decode())")
    out = subprocess.run(fab.exec_prefix(client) + [sys.executable, "-c", cli, fab.address(server), port],
                         capture_output=True, text=True, timeout=20).stdout.strip()
    srv.wait(10)
    return out


class TestRoot:
    pytestmark = needs_root

    def test_build_connect_shape_and_tear_down(self):
        with build_fabric(3, "1gbit") as fab:
            # only this fabric's namespaces: other runs on the machine may hold fabrics of their own
            names = {n for n in rax_namespaces() if n.startswith(fab.prefix)}
            assert {fab.namespace(r) for r in range(3)} | {fab.bridge_ns} <= names
            assert fab.prefix.startswith(f"rax-{os.getpid()}-")
            assert _exchange(fab, 2, 0) == "olleh"
            for ns, dev in ((fab.namespace(1), fab.ifname), (fab.bridge_ns, "p1")):
                qd = subprocess.run(["tc", "-n", ns, "qdisc", "show", "dev", dev], capture_output=True, text=True)
                assert "tbf" in qd.stdout and "rate 1Gbit" in qd.stdout  # egress and ingress of rank 1
            assert fab.describe()["addresses"] == ["10.77.0.1", "10.77.0.2", "10.77.0.3"]
        mine = {n for n in names if n.startswith(fab.prefix)}  # other runs' namespaces may come and go meanwhile
        assert len(mine) == 4 and not set(rax_namespaces()) & mine  # all gone, bridge included

    def test_concurrent_fabrics_do_not_collide(self):
        with build_fabric(2, "1gbit") as a, build_fabric(2, "2gbit") as b:
            assert a.prefix != b.prefix
            assert _exchange(a, 1, 0) == "olleh" and _exchange(b, 1, 0) == "olleh"
        assert not [n for n in rax_namespaces() if n.startswith((a.prefix, b.prefix))]

    def test_failed_build_leaves_nothing(self):
        ours = lambda: {n for n in rax_namespaces() if n.startswith(f"rax-{os.getpid()}-")}  # noqa: E731
        before = ours()
        with pytest.raises(RaxError, match="netemu"):
            build_fabric(2, "1gbit", mtu=10)  # below the minimum MTU: `ip link add` fails
        assert ours() == before
        assert not fabric_mod._LIVE

    def test_sweep_removes_only_dead_runs(self):
        dead = subprocess.Popen(["true"])
        dead.wait()
        stale = f"rax-{dead.pid}-abcdef-r0"
        subprocess.run(["ip", "netns", "add", stale], check=True)
        with build_fabric(1) as live:
            removed = sweep_stale()
            assert stale in removed and stale not in rax_namespaces()
            assert live.namespace(0) in rax_namespaces()
