"""Rank side, multi-node runs: which node each rank is on, and every node's fingerprint.

The machine id cannot tell nodes apart everywhere: network namespaces (emulated nodes),
containers and cloned images share /etc/machine-id. A node is what torchrun calls one:
one agent, its GROUP_RANK (node rank, assigned by the rendezvous) and its LOCAL_RANK 0.
Each node's local rank 0 contributes its identity (node rank, hostname, network
namespace, the address it joined from) and its fingerprint; one all_gather_object puts
them on every rank, and rank 0 reports them as roles node0, node1, ... of one run.
"""

from __future__ import annotations

import os
import socket
import subprocess

NODE_ADDR_ENV = "RAX_NODE_ADDR"  # this node's address (`rax launch` sets it to torchrun's --local-addr)


def _netns() -> str:
    """The network namespace: its `ip netns` name when it has one, else the kernel's id."""
    try:
        name = subprocess.run(["ip", "netns", "identify", str(os.getpid())], capture_output=True, text=True,
                              timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    if name:
        return name
    try:
        return os.readlink("/proc/self/ns/net")  # e.g. "net:[4026531840]"
    except OSError:
        return "unknown"


def source_address(peer: str) -> str | None:
    """The local address the kernel would use to reach `peer` (a UDP connect sends nothing)."""
    try:
        family = socket.AF_INET6 if ":" in peer else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((peer, 9))
            return s.getsockname()[0]
    except OSError:
        return None


def node_identity() -> dict:
    """This node as the run sees it: node rank, hostname, namespace and address."""
    master = os.environ.get("MASTER_ADDR", "127.0.0.1")
    return {"node_rank": int(os.environ.get("GROUP_RANK", "0")), "hostname": socket.gethostname(),
            "netns": _netns(), "address": os.environ.get(NODE_ADDR_ENV) or source_address(master),
            "local_ranks": int(os.environ.get("LOCAL_WORLD_SIZE", "1"))}


def gather_nodes(world_size: int) -> list[dict]:
    """Every node's {role, fingerprint} on every rank, node rank order (a collective call)."""
    import torch.distributed as dist

    from raxlab.measure.fingerprint import fingerprint

    mine = None
    if int(os.environ.get("LOCAL_RANK", "0")) == 0:
        ident = node_identity()
        mine = {"role": f"node{ident['node_rank']}", "fingerprint": {**fingerprint(), "node": ident}}
    everyone: list = [None] * world_size
    dist.all_gather_object(everyone, mine)
    items = [x for x in everyone if x]
    return sorted(items, key=lambda x: x["fingerprint"]["node"]["node_rank"])
