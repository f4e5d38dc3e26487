"""Network exposure: during a benchmark every listening socket of ours is bound to the
chosen interface (loopback locally, the fabric address when emulated), on an ephemeral
port unless a port was asked for, never on 0.0.0.0 / ::; after the run none is left."""

from __future__ import annotations

import time

import pytest

from tests.conftest import is_root
from tests.reliability.procs import marked, rax
from tests.reliability.sockets import SEEN, WILDCARDS, all_listening, ephemeral_range, listeners


def _watch(proc, timeout: float = 240) -> set[tuple[str, int, int]]:
    """Poll our processes' listening sockets until rax exits; returns all seen."""
    seen: set = set()
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        seen |= listeners(marked(proc))
        time.sleep(0.1)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    return seen


def _check(name: str, seen: set, allowed_hosts: set[str], fixed_ports: set[int] = frozenset()) -> None:
    lo, hi = ephemeral_range()
    assert seen, f"{name}: no listening socket observed (the rendezvous must listen somewhere)"
    for host, port, pid in seen:
        assert host not in WILDCARDS, f"{name}: pid {pid} listens on {host}:{port} (every interface)"
        assert host in allowed_hosts, f"{name}: pid {pid} listens on {host}:{port}, not on {allowed_hosts}"
        assert lo <= port <= hi or port in fixed_ports, f"{name}: port {port} is neither ephemeral nor asked for"
    left = {(h, p) for h, p, _ in seen} & all_listening()
    assert not left, f"{name}: still listening after the run: {left}"
    SEEN[name] = sorted({(h, p) for h, p, _ in seen})


def test_bench_comm_listens_on_loopback_only(tmp_path):
    proc = rax("bench", "comm", "--ranks", "2", "--collectives", "all_reduce", "-e", "1M", "--iters", "5",
               "--store", tmp_path / "c.db", "--json")
    _check("bench comm --ranks 2", _watch(proc), {"127.0.0.1"})


def test_bench_ddp_listens_on_loopback_only(tmp_path):
    proc = rax("bench", "ddp", "tiny-lm", "--ranks", "2", "--steps", "3", "--no-baseline", "--no-split",
               "--store", tmp_path / "d.db", "--json")
    _check("bench ddp --ranks 2", _watch(proc), {"127.0.0.1"})


@pytest.mark.skipif(not is_root(), reason="needs root (network namespaces)")
def test_emulated_ranks_listen_on_their_fabric_address_and_the_port_asked_for(tmp_path):
    """One rank per namespace: rank 0 binds the rendezvous on its veth address, on the port
    given with --master-port (told otherwise); gloo's pair sockets take ephemeral ones. (DDP over
    emulated links, whose rendezvous port is fixed inside the private namespace, is checked by
    `make soak`.)"""
    proc = rax("bench", "comm", "--collectives", "all_reduce", "-e", "1M", "--iters", "5", "--ranks", "2",
               "--emulate", "1gbit", "--master-port", "29777", "--store", tmp_path / "e.db", "--json")
    seen = _watch(proc)
    assert ("10.77.0.1", 29777) in {(h, p) for h, p, _ in seen}
    _check("bench comm --emulate 1gbit --master-port 29777", seen, {"10.77.0.1", "10.77.0.2"}, {29777})


def test_the_probe_sees_a_wildcard_listener():
    """The check above would catch a socket on every interface (v4 and v6) held by one of ours."""
    import os
    import socket

    with socket.socket() as s4, socket.socket(socket.AF_INET6) as s6:
        s4.bind(("0.0.0.0", 0))
        s6.bind(("::", 0))
        s4.listen()
        s6.listen()
        mine = listeners([os.getpid()])
        assert ("0.0.0.0", s4.getsockname()[1], os.getpid()) in mine
        assert ("::", s6.getsockname()[1], os.getpid()) in mine
