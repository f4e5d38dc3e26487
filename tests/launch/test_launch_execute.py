"""rax launch --execute for real: torchrun on loopback, an unreachable rendezvous, and (root) two
emulated nodes in network namespaces whose rendezvous runs over their veth addresses."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from raxlab.cli.main import main
from raxlab.store import Store

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
SWEEP = ["--collectives", "all_reduce", "-b", "1K", "-e", "64K", "-f", "64", "--iters", "2", "--warmup", "1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))  # free on every address, so nothing answers on it below either
        return s.getsockname()[1]


def test_one_node_stores_one_run_with_its_node_fingerprint(tmp_path, capsys):
    db = str(tmp_path / "l.db")
    argv = ["launch", "--nproc-per-node", "2", "--rdzv-endpoint", f"127.0.0.1:{free_port()}", "--rdzv-timeout", "60",
            "--store", db, "--execute", "--json", "--", "rax", "bench", "comm", *SWEEP]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hosted_rendezvous"] and out["status"] == "complete" and out["binding"]["ifname"] == "lo"
    run = Store(db).get_run(out["run_id"])
    assert set(run["fingerprints"]) == {"node0"} and run["fingerprints"]["node0"]["node"]["local_ranks"] == 2
    assert run["params"]["launcher"] == "torchrun" and run["params"]["torchrun_args"]
    assert [p["params"]["ranks"] for p in run["points"]] == [2, 2]


def test_an_unreachable_rendezvous_fails_in_one_line_within_the_timeout(tmp_path, capsys):
    port = free_port()  # 127.0.0.2 is this host's loopback net, but no interface owns it: a joining node
    argv = ["launch", "--nnodes", "2", "--rdzv-endpoint", f"127.0.0.2:{port}", "--rdzv-timeout", "3",
            "--store", str(tmp_path / "u.db"), "--execute", "--", "rax", "bench", "comm", *SWEEP]
    t0 = time.perf_counter()
    assert main(argv) == 2
    wall = time.perf_counter() - t0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert f"could not complete the rendezvous at 127.0.0.2:{port}" in err and "within 3 s" in err
    assert wall < 3 + 60, f"took {wall:.0f} s: the timeout did not hold"  # 60 s: torch imports on a loaded host
    assert not Store(str(tmp_path / "u.db")).list_runs()


def _listeners(fab, seen: set, procs) -> None:
    """Listening TCP sockets in each node's namespace while the launch runs."""
    while any(p.poll() is None for p in procs):
        for r in range(fab.ranks):
            out = subprocess.run(fab.exec_prefix(r) + ["ss", "-Hltn"], capture_output=True, text=True).stdout
            seen.update((r, line.split()[3]) for line in out.splitlines() if line.split())
        time.sleep(0.3)


@pytest.mark.root
@pytest.mark.skipif(not ROOT, reason="network namespaces need root")
def test_two_emulated_nodes_one_run_two_fingerprints_nothing_on_all_interfaces(tmp_path):
    from raxlab.netemu import build_fabric

    db = str(tmp_path / "two.db")
    cmd = [sys.executable, "-m", "raxlab", "launch", "--nnodes", "2", "--rdzv-endpoint", "10.77.0.1:29400",
           "--rdzv-timeout", "90", "--store", db, "--execute", "--json", "--", "rax", "bench", "comm", *SWEEP]
    seen: set = set()
    with build_fabric(2, "1gbit") as fab:
        procs = [subprocess.Popen(fab.exec_prefix(r) + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for r in range(2)]
        watch = threading.Thread(target=_listeners, args=(fab, seen, procs))
        watch.start()
        outs = [p.communicate(timeout=240) for p in procs]
        watch.join()
        netns = {fab.namespace(0), fab.namespace(1)}
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    node0, node1 = (json.loads(o[0]) for o in outs)
    assert node0["hosted_rendezvous"] and not node1["hosted_rendezvous"] and node1["run_id"] is None
    assert node1["binding"] == {"ifname": "rax0", "address": "10.77.0.2", "hosts_rendezvous": False,
                                "how": "rax0 routes to the rendezvous address 10.77.0.1"}
    run = Store(db).get_run(node0["run_id"])
    fps = run["fingerprints"]
    assert set(fps) == {"node0", "node1"} and len(Store(db).list_runs()) == 1
    assert {fps[r]["node"]["netns"] for r in fps} == netns
    assert {fps[r]["node"]["address"] for r in fps} == {"10.77.0.1", "10.77.0.2"}
    assert run["status"] == "complete" and all(p["params"]["ranks"] == 2 for p in run["points"])
    addrs = {addr.rsplit(":", 1)[0] for _, addr in seen}
    assert "10.77.0.1:29400" in {a for _, a in seen}, seen  # the rendezvous store, bound to its address
    assert addrs <= {"10.77.0.1", "10.77.0.2"}, f"something listened on another address: {seen}"
