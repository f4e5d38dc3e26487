"""The NCCL_DEBUG=INFO parser and transport verification, on realistic log lines.

Line formats: NVIDIA/nccl 2.30.7 (net_ib/init.cc, net_socket.cc, init.cc, transport/net.cc,
p2p.cc, shm.cc, graph/topo.cc), as collected in ../shared/reference/measurement.md §2.2.
"""

import os

import pytest

from raxlab.errors import RaxError
from raxlab.measure.comm.nccl_log import parse
from raxlab.measure.comm.transports import ARMS, arm_env, verify

P = "gpu-node1:38211:38211 [0] NCCL INFO "
Q = "gpu-node1:38211:38290 [0] NCCL INFO "

IB_LOG = "\n".join([
    P + "NCCL version 2.21.5+cuda12.4",
    P + "NCCL_NET set by environment to IB",
    P + "NCCL_SOCKET_IFNAME set by environment to =eth0",
    Q + "NET/IB : Using [0]mlx5_0:1/IB [1]mlx5_1:1/IB [RO]; OOB eth0:10.0.0.1<0>",
    Q + "Using network IB",
    Q + "NET/IB : GPU Direct RDMA Enabled for HCA 0 'mlx5_0'",
    Q + "Channel 00/0 : 1[0] -> 0[0] [receive] via NET/IB/0/GDRDMA",
    Q + "Channel 00/0 : 0[0] -> 1[0] [send] via NET/IB/0/GDRDMA",
    Q + "Channel 01/0 : 0[0] -> 1[0] [send] via NET/IB/1(3)/GDRDMA",
    Q + "Connected all rings",
])
ROCE_LOG = "\n".join([
    P + "NCCL version 2.23.4+cuda12.6",
    Q + "NET/IB : Using [0]mlx5_2:1/RoCE [RO]; OOB ens1f0np0:192.168.10.11<0>",
    Q + "Using network IB",
    Q + "Channel 00/0 : 0[1b000] -> 1[1b000] [send] via NET/IB/0",
])
SOCKET_LOG = "\n".join([
    P + "NCCL version 2.21.5+cuda12.4",
    P + "NCCL_NET_PLUGIN set by environment to none",
    Q + "NET/Socket : Using [0]eth0:10.0.0.1<0> [1]eth1:10.0.1.1<0>",
    Q + "Using network Socket",
    Q + "Channel 00/0 : 0[0] -> 1[0] [send] via NET/Socket/0",
    Q + "Channel 00/0 : 1[0] -> 0[0] [receive] via NET/Socket/1",
])
IPOIB_LOG = "\n".join([
    Q + "NET/Socket : Using [0]ibs85f0:192.168.100.1<0>",
    Q + "Using network Socket",
    Q + "Channel 00/0 : 0[0] -> 1[0] [send] via NET/Socket/0",
])
PLUGIN_LOG = "\n".join([
    Q + "NET/IB : Using [0]mlx5_0:1/IB [RO]; OOB eth0:10.0.0.1<0>",
    Q + "Using network IBext_v8",
    Q + "Channel 00/0 : 0[0] -> 1[0] [send] via NET/IBext_v8/0/GDRDMA",
])
INTRA_LOG = "\n".join([
    Q + "Using network Socket",
    Q + "Channel 00/0 : 0[0] -> 1[1] via P2P/CUMEM/read",
    Q + "Channel 01/0 : 1[1] -> 0[0] via SHM/direct/direct",
    Q + "Channel 02/0 : 0[0] -> 1[1] via P2P/direct pointer",
])


def test_ib_log_is_ib_with_gpudirect():
    info = parse(IB_LOG)
    assert info.version == "2.21.5+cuda12.4" and info.network == "IB"
    assert [d["dev"] for d in info.ib_devices] == ["mlx5_0", "mlx5_1"]
    assert info.paths == {"NET/IB/GDRDMA": 3} and info.gdr is True
    assert info.kind == "ib" and info.to_dict()["gdrdma"] is True
    assert info.env["NCCL_NET"] == "IB" and info.env["NCCL_SOCKET_IFNAME"] == "=eth0"


def test_roce_socket_ipoib_plugin_and_intra_node_are_told_apart():
    roce = parse(ROCE_LOG)
    assert roce.kind == "roce" and roce.ib_devices[0]["link"] == "RoCE"
    assert roce.to_dict()["gdrdma"] is False
    sock = parse(SOCKET_LOG)
    assert sock.kind == "tcp" and [i["ifname"] for i in sock.socket_ifaces] == ["eth0", "eth1"]
    assert sock.socket_ifaces[0]["addr"] == "10.0.0.1"
    assert parse(IPOIB_LOG).kind == "tcp-ipoib"
    assert parse(PLUGIN_LOG).kind == "plugin:IBext_v8"
    intra = parse(INTRA_LOG)
    assert intra.kind == "intra-node" and not intra.net_paths
    assert set(intra.intra_paths) == {"P2P/CUMEM", "SHM/direct", "P2P/direct pointer"}


def test_an_arm_whose_transport_differs_is_an_error():
    verify(ARMS["nccl-ib"], parse(IB_LOG), 2, final=True)
    verify(ARMS["nccl-ib"], parse(ROCE_LOG), 2, final=True)  # RoCE is IB verbs: the kind records it
    verify(ARMS["nccl-socket"], parse(SOCKET_LOG), 2, final=True)
    verify(ARMS["nccl"], parse(PLUGIN_LOG), 2, final=True)  # NCCL's choice: recorded, not judged
    with pytest.raises(RaxError, match="nccl-socket asked for NCCL_NET=Socket but NCCL used network IB"):
        verify(ARMS["nccl-socket"], parse(IB_LOG), 2, final=False)
    with pytest.raises(RaxError, match="used network IBext_v8"):
        verify(ARMS["nccl-ib"], parse(PLUGIN_LOG), 2, final=False)
    with pytest.raises(RaxError, match="channels ran via NET/Socket"):
        verify(ARMS["nccl-ib"], parse(SOCKET_LOG.replace("Using network Socket", "")), 2, final=False)


def test_network_never_exercised_or_no_log_fails_at_the_end_only():
    intra = parse(INTRA_LOG.replace("Using network Socket", ""))
    verify(ARMS["nccl-ib"], intra, 2, final=False)
    with pytest.raises(RaxError, match="network was not measured"):
        verify(ARMS["nccl-ib"], intra, 2, final=True)
    verify(ARMS["nccl-socket"], parse(Q + "Using network Socket"), 1, final=True)  # 1 rank: no channels
    verify(ARMS["nccl-ib"], None, 2, final=False)
    with pytest.raises(RaxError, match="no NCCL_DEBUG=INFO output"):
        verify(ARMS["nccl-ib"], parse("unrelated text"), 2, final=True)
    verify(ARMS["gloo"], None, 2, final=True)


def test_arm_environments_force_the_transport():
    env = arm_env(ARMS["nccl-socket"], ifname="eth0", log_dir="/tmp/x")
    assert env["NCCL_NET"] == "Socket" and env["NCCL_NET_PLUGIN"] == "none"
    assert env["NCCL_SOCKET_IFNAME"] == "=eth0" and env["GLOO_SOCKET_IFNAME"] == "eth0"
    assert env["NCCL_DEBUG"] == "INFO" and "NET" in env["NCCL_DEBUG_SUBSYS"]
    ib = arm_env(ARMS["nccl-ib"], gid_index=3, emulated=True)
    assert ib["NCCL_NET"] == "IB" and ib["NCCL_IB_GID_INDEX"] == "3"
    assert ib["NCCL_P2P_DISABLE"] == "1" and ib["NCCL_SHM_DISABLE"] == "1"
    assert "NCCL_NET" not in arm_env(ARMS["nccl"])
    assert arm_env(ARMS["gloo"], ifname="lo") == {"GLOO_SOCKET_IFNAME": "lo"}
    with pytest.raises(RaxError, match="--gid-index"):
        arm_env(ARMS["gloo"], gid_index=3)


def test_a_rank_applies_its_arm_and_logs_nccl_per_rank(monkeypatch, tmp_path):
    from raxlab.measure.comm.transports import apply_arm_env

    # a private copy of the environment: nothing the rank sets leaks into later tests
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items()
                                        if not k.startswith(("NCCL_", "GLOO_", "RAX_NCCL"))})
    assert apply_arm_env(ARMS["gloo"], ifname="lo") is None
    assert os.environ["GLOO_SOCKET_IFNAME"] == "lo" and "NCCL_DEBUG_FILE" not in os.environ
    os.environ.update({"RAX_NCCL_LOG_DIR": str(tmp_path / "logs"), "RANK": "3"})
    assert apply_arm_env(ARMS["nccl-socket"]) == str(tmp_path / "logs")
    assert os.environ["NCCL_NET"] == "Socket"
    assert os.environ["NCCL_DEBUG_FILE"] == str(tmp_path / "logs" / "nccl.rank3.log")
    assert (tmp_path / "logs").is_dir()
