"""The cluster a launch spans and the exact torchrun command each node runs.

    spec = ClusterSpec(nnodes=2, nproc_per_node=8, rdzv_host="10.0.0.1").validate()
    env, argv = node_command(spec, job, binding)   # this node's torchrun, environment first
    shell_line(env, argv)                          # printable, copy-pasteable

Every node runs the same `rax launch ... --execute` line; what differs per node is only
its own address and interface (`netaddr.choose_binding`). The torchrun underneath
(../shared/reference/measurement.md §4.2) uses the c10d rendezvous with:

- `--rdzv-conf is_host=0`: no torchrun agent hosts the rendezvous store, because
  torch's TCPStore server listens on every interface (it binds "::"/0.0.0.0 unless handed a
  socket). `rax launch` on the node that owns the rendezvous address hosts it instead,
  bound to that address only (measure/launch_cluster.py).
- `TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`: the node-rank-0 agent would otherwise start a
  second, worker-facing TCPStore on every interface; without it rank 0 of the workers hosts
  the process-group store, bound to MASTER_ADDR (= node 0's --local-addr) by
  measure/comm/rank.py.
- `--local-addr ADDR`: this node's chosen address, used as its rendezvous identity and, on
  node 0, as MASTER_ADDR. torchrun orders nodes by it, so node rank 0 (and global rank 0,
  which stores the results) is the node with the smallest address string.
- `join_timeout`/`read_timeout` = --rdzv-timeout (read capped at 60 s): a node that cannot
  reach the rendezvous fails within it.
- `--max-restarts 0`: a measurement that failed is reported, not silently re-run.
gloo and NCCL sockets bind the chosen interface (GLOO_SOCKET_IFNAME, NCCL_SOCKET_IFNAME).
"""

from __future__ import annotations

import hashlib
import shlex
import sys
from dataclasses import dataclass

from raxlab.errors import RaxError
from raxlab.launch.job import Job, given
from raxlab.launch.netaddr import Binding

DEFAULT_PORT = 29400  # torchrun's c10d default (torch/distributed/run.py)
DEFAULT_RDZV_TIMEOUT_S = 180.0
READ_TIMEOUT_CAP_S = 60  # torch's own default store read timeout
TORCHRUN = "torch.distributed.run"  # `python -m torch.distributed.run` is torchrun, same interpreter
BIND_ENV = {"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}


def parse_endpoint(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(DEFAULT_PORT)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RaxError(f"bad rendezvous endpoint {text!r}; use HOST:PORT, e.g. 10.0.0.1:29400",
                       field="--rdzv-endpoint")
    return host, int(port)


@dataclass
class ClusterSpec:
    nnodes: int
    nproc_per_node: int
    rdzv_host: str  # as given: an address or a host name
    rdzv_port: int = DEFAULT_PORT
    rdzv_id: str | None = None  # None: derived from the command, the same on every node
    rdzv_timeout_s: float = DEFAULT_RDZV_TIMEOUT_S
    ifname: str | None = None
    node_rank: int | None = None  # 0: this node must own the rendezvous address; >0: it joins
    python: str = sys.executable

    @property
    def world_size(self) -> int:
        return self.nnodes * self.nproc_per_node

    @property
    def endpoint(self) -> str:
        return f"{self.rdzv_host}:{self.rdzv_port}"

    def validate(self) -> "ClusterSpec":
        if self.nnodes < 1 or self.nproc_per_node < 1:
            raise RaxError(f"need --nnodes >= 1 and --nproc-per-node >= 1, got {self.nnodes} and "
                           f"{self.nproc_per_node}", field="--nnodes")
        if self.rdzv_timeout_s <= 0:
            raise RaxError(f"must be a positive number of seconds, got {self.rdzv_timeout_s:g}",
                           field="--rdzv-timeout")
        if self.node_rank is not None and not 0 <= self.node_rank < self.nnodes:
            raise RaxError(f"must be in 0..{self.nnodes - 1}, got {self.node_rank}", field="--node-rank")
        return self

    def with_id(self, job: Job) -> "ClusterSpec":
        """Fill in a rendezvous id every node derives alike from the same command."""
        if not self.rdzv_id:
            key = " ".join([self.endpoint, str(self.nnodes), str(self.nproc_per_node), *job.command])
            self.rdzv_id = "rax-" + hashlib.sha1(key.encode()).hexdigest()[:10]
        return self


def rdzv_conf(spec: ClusterSpec) -> str:
    t = max(1, round(spec.rdzv_timeout_s))
    return f"is_host=0,join_timeout={t},read_timeout={min(t, READ_TIMEOUT_CAP_S)}"


def torchrun_args(spec: ClusterSpec, rdzv_addr: str, local_addr: str) -> list[str]:
    return ["--nnodes", str(spec.nnodes), "--nproc-per-node", str(spec.nproc_per_node),
            "--rdzv-backend", "c10d", "--rdzv-endpoint", f"{rdzv_addr}:{spec.rdzv_port}",
            "--rdzv-id", str(spec.rdzv_id), "--rdzv-conf", rdzv_conf(spec), "--local-addr", local_addr,
            "--max-restarts", "0"]


def transport_env(job: Job, ifname: str | None) -> dict[str, str]:
    """The arm's variables (the worker sets them again itself; here they are on record)."""
    from raxlab.measure.comm import transports

    return transports.arm_env(transports.get_arm(job.transport), ifname=ifname, gid_index=job.gid_index)


def node_env(job: Job, binding: Binding) -> dict[str, str]:
    from raxlab.measure.comm.nodes import NODE_ADDR_ENV

    extra = job.extra.get("env") or {}  # e.g. NCCL_ALGO=Ring for a 2-node fabric measurement
    return {**transport_env(job, binding.ifname), **extra, **BIND_ENV, NODE_ADDR_ENV: binding.address}


def node_command(spec: ClusterSpec, job: Job, binding: Binding, rdzv_addr: str) -> tuple[dict, list[str]]:
    """(environment, argv) of the torchrun this node runs."""
    argv = [spec.python, "-m", TORCHRUN, *torchrun_args(spec, rdzv_addr, binding.address),
            "-m", job.module, *job.worker_args, "--ifname", binding.ifname]
    return node_env(job, binding), argv


def shell_line(env: dict[str, str], argv: list[str]) -> str:
    assigns = [f"{k}={shlex.quote(v)}" for k, v in env.items()]
    return " ".join((["env", *assigns] if assigns else []) + [shlex.quote(a) for a in argv])


def launch_argv(spec: ClusterSpec, job: Job, store: str | None, *, endpoint: str | None = None,
                nnodes: str | None = None, rdzv_id: str | None = None) -> list[str]:
    """The `rax launch --execute` line every node runs (values may be shell expressions)."""
    argv = ["rax", "launch", "--nnodes", nnodes or str(spec.nnodes), "--nproc-per-node", str(spec.nproc_per_node),
            "--rdzv-endpoint", endpoint or spec.endpoint, "--rdzv-id", rdzv_id or str(spec.rdzv_id),
            "--rdzv-timeout", f"{spec.rdzv_timeout_s:g}"]
    if spec.ifname:
        argv += ["--ifname", spec.ifname]
    if job.gid_index is not None and not given(job.command, "--gid-index"):
        argv += ["--gid-index", str(job.gid_index)]
    argv += [] if given(job.command, "--transport") else ["--transport", job.transport]
    if store:
        argv += ["--store", store]
    return argv + ["--execute", "--", *job.command]
