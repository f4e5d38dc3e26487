"""This node's part of a multi-node launch (`rax launch ... --execute`): rendezvous, torchrun, store.

    result = execute_node(ClusterSpec(2, 8, "10.0.0.1").validate(), parse_bench([...]), store="rax.db")

1. Bind: the interface named, or the one routing to the rendezvous address
   (`launch.netaddr`). A node that owns the rendezvous address hosts the c10d store itself,
   bound to that address only (torch's TCPStore server would listen on every interface),
   and keeps it a moment after its torchrun ends so the other agents can close the round.
2. Run torchrun (`launch.cluster.node_command`) under the rank watcher of
   `measure.comm.launch`: protocol lines of this node's ranks arrive as events.
3. Record: the node that runs global rank 0 opens the run when rank 0's first event
   arrives and records it with the bench's own Recorder (comm or ddp); rank 0 reports
   every node's fingerprint (roles node0, node1, ... from measure/comm/nodes.py), so one
   stored run holds every node. Other nodes store nothing and say where rank 0 was.
4. Deadline: a node whose ranks have not joined the process group within --rdzv-timeout
   (+ a grace for imports) is ended; torchrun's own rendezvous errors are turned into one
   line naming the endpoint, this node's address and what to check.
"""

from __future__ import annotations

import _thread
import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from raxlab.errors import RaxError
from raxlab.launch.cluster import ClusterSpec, node_command, shell_line, torchrun_args
from raxlab.launch.job import Job
from raxlab.launch.netaddr import Binding, choose_binding, resolve
from raxlab.measure.comm.launch import STARTUP, LaunchSpec, RankFailure, launch
from raxlab.netemu.cleanup import terminate_as_interrupt
from raxlab.store import Store

IMPORT_GRACE_S = 90.0  # torchrun and the workers import torch before and after the rendezvous
STORE_LINGER_S = 2.0  # the other agents close the rendezvous round through this store


@dataclass
class NodeResult:
    binding: Binding
    hosted_rendezvous: bool
    command: str  # the exact torchrun line this node ran
    wall_s: float
    run_id: str | None = None  # set on the node that ran global rank 0
    status: str | None = None
    store_path: str | None = None
    nodes: list = field(default_factory=list)  # {role, node identity} as rank 0 reported them
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {**self.__dict__, "binding": self.binding.to_dict()}


def _check_role(spec: ClusterSpec, b: Binding, rdzv_addr: str) -> None:
    if spec.node_rank == 0 and not b.hosts_rendezvous:
        raise RaxError(f"node 0 hosts the rendezvous, but {rdzv_addr} is not an address of this node",
                       field="--node-rank")
    if spec.node_rank and b.hosts_rendezvous:
        raise RaxError(f"this node owns the rendezvous address {rdzv_addr}, so it is node 0, not "
                       f"{spec.node_rank}", field="--node-rank")


@contextlib.contextmanager
def hosted_store(addr: str, port: int, timeout_s: float):
    """The c10d rendezvous store, listening on addr:port only (master_listen_fd)."""
    import datetime

    import torch.distributed as dist

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((addr, port))
    except OSError as exc:
        sock.close()
        raise RaxError(f"cannot listen on {addr}:{port} for the rendezvous: {exc.strerror} (another launch on "
                       "this port? choose another with --rdzv-endpoint HOST:PORT)", field="--rdzv-endpoint") from None
    sock.listen(128)
    try:
        store = dist.TCPStore(addr, port, None, True, timeout=datetime.timedelta(seconds=timeout_s),
                              wait_for_workers=False, master_listen_fd=sock.fileno(), use_libuv=True)
    except BaseException:
        sock.close()
        raise
    sock.detach()  # the store owns the descriptor now and closes it when it is destroyed
    try:
        yield store
    finally:
        time.sleep(STORE_LINGER_S)
        del store


class _Deadline:
    """Interrupts the main thread unless `met()` is called within `seconds`."""

    def __init__(self, seconds: float):
        self.seconds, self.fired = seconds, False
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        _thread.interrupt_main()

    def met(self) -> None:
        self.timer.cancel()


def _rdzv_error(exc: BaseException | None, spec: ClusterSpec, b: Binding, rdzv_addr: str) -> RaxError:
    text = str(exc or "")
    where = f"the rendezvous at {rdzv_addr}:{spec.rdzv_port} (id {spec.rdzv_id}) from {b.address} on {b.ifname}"
    if "RendezvousTimeoutError" in text or "Timed out" in text:
        why = (f"not all {spec.nnodes} nodes joined; start the same `rax launch ... --execute` on every node")
    else:
        why = ("is `rax launch --execute` running on the node that owns that address (it hosts the rendezvous), "
               f"and is TCP port {spec.rdzv_port} reachable from here?")
    return RaxError(f"this node could not complete {where} within {spec.rdzv_timeout_s:g} s: {why}",
                    field="--rdzv-endpoint")


def execute_node(spec: ClusterSpec, job: Job, *, store: Store | str | None = None,
                 on_event: Callable[[dict], None] | None = None) -> NodeResult:
    """Run this node's ranks to completion; raises RaxError (one line) on failure."""
    rdzv_addr = resolve(spec.rdzv_host)
    binding = choose_binding(rdzv_addr, spec.ifname)
    _check_role(spec, binding, rdzv_addr)
    from raxlab.measure.launch_record import RunSink, preflight

    preflight(job, spec.nproc_per_node)
    env, argv = node_command(spec, job, binding, rdzv_addr)
    targs = torchrun_args(spec, rdzv_addr, binding.address)
    deadline = _Deadline(spec.rdzv_timeout_s + IMPORT_GRACE_S)
    sink = RunSink(job, spec, binding, env, targs, store, on_event, on_joined=deadline.met)
    launch_spec = LaunchSpec(job.module, argv[argv.index(job.module) + 1:], ranks=1, env=env,
                             torchrun_args=targs, timeout_s=3600, setup_timeout_s=spec.rdzv_timeout_s)
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        stack.enter_context(terminate_as_interrupt())
        if binding.hosts_rendezvous:
            stack.enter_context(hosted_store(rdzv_addr, spec.rdzv_port, spec.rdzv_timeout_s))
        deadline.timer.start()
        stack.callback(deadline.met)
        _run(launch_spec, sink, deadline, spec, binding, rdzv_addr)
    return NodeResult(binding, binding.hosts_rendezvous, shell_line(env, argv), time.perf_counter() - t0,
                      **sink.result())


def _run(launch_spec: LaunchSpec, sink, deadline: _Deadline, spec: ClusterSpec, b: Binding, rdzv_addr: str) -> None:
    try:
        launch(launch_spec, sink.handle)
    except RankFailure as exc:
        joined = bool(sink.joined)
        sink.fail(exc.status, str(exc))
        if not joined and exc.what == STARTUP and "Rendezvous" in str(exc):
            raise _rdzv_error(exc, spec, b, rdzv_addr) from None
        raise
    except KeyboardInterrupt:
        sink.fail("killed", "interrupted (Ctrl-C or SIGTERM)" if not deadline.fired else "rendezvous timeout")
        if deadline.fired:
            raise _rdzv_error(None, spec, b, rdzv_addr) from None
        raise
    except BaseException as exc:
        sink.fail("failed", str(exc))
        raise
    sink.finish()
