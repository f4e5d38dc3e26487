"""rax launch without running anything: the bench command as a worker, the per-node torchrun, bindings."""

import json
import shlex

import pytest

from raxlab.cli.main import main
from raxlab.errors import RaxError
from raxlab.launch.cluster import ClusterSpec, node_command, parse_endpoint, shell_line
from raxlab.launch.job import parse_bench
from raxlab.launch.netaddr import choose_binding, interfaces


def test_bench_commands_become_worker_arguments():
    job = parse_bench(["--", "rax", "bench", "comm", "-e", "1M", "--collectives", "all_reduce"], "gloo")
    assert job.kind == "comm" and job.module == "raxlab.measure.comm.worker" and job.transport == "gloo"
    assert job.worker_args[job.worker_args.index("-e") + 1] == str(2**20)
    ddp = parse_bench(["rax", "bench", "ddp", "tiny-lm", "--micro-batch", "4", "--steps", "3"], None)
    assert ddp.module == "raxlab.measure.ddp_worker"
    assert ddp.worker_args[:2] == ["--workload", "tiny-lm"] and ["--transport", "gloo"] == ddp.worker_args[-2:]


@pytest.mark.parametrize("argv, match", [
    (["rax", "bench", "comm", "--ranks", "4"], "--ranks does not apply"),
    (["rax", "bench", "comm", "--emulate", "1gbit"], "--emulate does not apply"),
    (["rax", "bench", "compute", "tiny-lm"], "measures one node"),
    (["rax", "bench", "comm", "--bogus"], "unrecognized arguments: --bogus"),
    (["rax", "bench", "comm", "--transport", "rdma"], "unknown transport 'rdma'"),
    (["rax", "run"], "give the measurement after --"),
])
def test_bench_commands_that_cannot_be_launched_are_one_line_errors(argv, match):
    with pytest.raises(RaxError, match=match):
        parse_bench(argv)


def test_transport_given_twice_must_agree():
    assert parse_bench(["rax", "bench", "comm", "--transport", "nccl-ib"], "nccl-ib").transport == "nccl-ib"
    with pytest.raises(RaxError, match="disagree"):
        parse_bench(["rax", "bench", "comm", "--transport", "nccl-ib"], "gloo")


def test_the_torchrun_of_a_node_binds_its_own_address_and_never_hosts_the_store():
    job = parse_bench(["rax", "bench", "comm", "--transport", "nccl-socket"])
    spec = ClusterSpec(2, 8, "10.0.0.1", rdzv_timeout_s=30).validate().with_id(job)
    from raxlab.launch.netaddr import Binding

    env, argv = node_command(spec, job, Binding("eth1", "10.0.0.2", False, "test"), "10.0.0.1")
    conf = argv[argv.index("--rdzv-conf") + 1]
    assert conf == "is_host=0,join_timeout=30,read_timeout=30"
    assert argv[argv.index("--local-addr") + 1] == "10.0.0.2" and argv[-2:] == ["--ifname", "eth1"]
    assert env["TORCH_DISABLE_SHARE_RDZV_TCP_STORE"] == "1" and env["NCCL_SOCKET_IFNAME"] == "=eth1"
    assert env["NCCL_NET"] == "Socket" and env["GLOO_SOCKET_IFNAME"] == "eth1"
    words = shlex.split(shell_line(env, argv))
    assert words[0] == "env" and "NCCL_SOCKET_IFNAME==eth1" in words and words[-len(argv):] == argv


def test_rendezvous_id_is_the_same_on_every_node_and_differs_per_command():
    a = parse_bench(["rax", "bench", "comm", "-e", "1M"])
    b = parse_bench(["rax", "bench", "comm", "-e", "2M"])
    ids = {ClusterSpec(2, 1, "h").with_id(j).rdzv_id for j in (a, a, b)}
    assert len(ids) == 2 and all(i.startswith("rax-") for i in ids)


@pytest.mark.parametrize("text, want", [("10.0.0.1:29401", ("10.0.0.1", 29401)), ("node1", ("node1", 29400))])
def test_endpoints(text, want):
    assert parse_endpoint(text) == want


@pytest.mark.parametrize("text", ["host:0", "host:http", ":29400"])
def test_bad_endpoints(text):
    with pytest.raises(RaxError, match="--rdzv-endpoint"):
        parse_endpoint(text)


def test_binding_the_loopback_rendezvous_hosts_it_and_a_named_interface_wins():
    b = choose_binding("127.0.0.1")
    assert b.hosts_rendezvous and b.ifname == "lo" and b.address == "127.0.0.1"
    with pytest.raises(RaxError, match="no interface 'nosuch0'"):
        choose_binding("127.0.0.1", "nosuch0")
    # an address on the loopback net that no interface carries is joined through lo, not hosted
    far = choose_binding("127.0.0.2")
    assert not far.hosts_rendezvous and far.ifname == "lo" and far.address == "127.0.0.1"


def test_binding_follows_the_route_to_a_remote_rendezvous():
    own = {a: name for name, addrs in interfaces().items() for a in addrs if not a.startswith("127.")}
    if not own:
        pytest.skip("this machine has no non-loopback IPv4 address")
    addr, name = next(iter(own.items()))
    peer = addr.rsplit(".", 1)[0] + (".1" if not addr.endswith(".1") else ".2")
    b = choose_binding(peer)
    assert b.ifname == name and b.address == addr and not b.hosts_rendezvous


def test_cli_prints_the_line_for_every_node_and_this_nodes_torchrun(capsys):
    argv = ["launch", "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-endpoint", "127.0.0.1:29555", "--json",
            "--", "rax", "bench", "comm", "-e", "1M"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    every = shlex.split(out["every_node"])
    assert every[:2] == ["rax", "launch"] and "--execute" in every and every[-4:] == ["bench", "comm", "-e", "1M"]
    assert out["binding"]["hosts_rendezvous"] and "--local-addr" in out["torchrun_argv"]
    assert main(["launch", "--nnodes", "2", "--", "rax", "bench", "comm"]) == 2
    assert "--rdzv-endpoint" in capsys.readouterr().err
