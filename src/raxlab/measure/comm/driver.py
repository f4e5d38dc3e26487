"""The parent side of `rax bench comm`: arm, fabric, launch, store, fit.

    run = run_comm(SweepOptions(...).validate(), ranks=2, emulate="1gbit")

One stored run (kind "bench.comm") per call: params (sweep, ranks, arm environment,
fabric), the host fingerprint, one point per collective x size x dtype written as
rank 0 reports it, the transport record (artifact "comm_transport") and the α-β fit
(artifact "comm_fit"). A failure (dead or hung rank, wrong transport, Ctrl-C, SIGTERM)
kills every rank, removes the fabric, stores the point in flight with its reason and
marks the run failed or interrupted; every completed point stays.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

from raxlab.errors import RaxError
from raxlab.measure.comm import transports
from raxlab.measure.comm.launch import LaunchSpec, RankFailure, launch
from raxlab.measure.comm.options import SweepOptions
from raxlab.measure.comm.record import RUN_KIND, Recorder
from raxlab.netemu.cleanup import terminate_as_interrupt
from raxlab.store import Store

WORKER = "raxlab.measure.comm.worker"
UNSHAPED = "unshaped"  # --emulate unshaped: namespaces and veths without tbf (the host's ceiling)


@dataclass
class CommRun:
    run_id: str
    status: str
    rows: list[dict]
    fits: list[dict]
    transport: dict
    params: dict
    wall_s: float
    error: str | None = None
    store_path: str | None = None
    peaks: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Placement:
    """Where the ranks run: fabric (or None), interface, worker flags, launcher kind."""

    fabric: object | None
    ifname: str | None
    launcher: str


def _worker_args(sweep: SweepOptions, place: Placement, gid_index: int | None) -> list[str]:
    args = sweep.to_args()
    if place.ifname:
        args += ["--ifname", place.ifname]
    if gid_index is not None:
        args += ["--gid-index", str(gid_index)]
    if place.fabric is not None:
        args.append("--emulated")
    return args


def _place(stack: contextlib.ExitStack, ranks: int, emulate: str | None, mtu: int | None,
           ifname: str | None, torchrun_args: list[str] | None) -> Placement:
    if torchrun_args is not None:
        if emulate:
            raise RaxError("--emulate and --torchrun do not mix: torchrun places the ranks itself",
                           field="--emulate")
        return Placement(None, ifname, "torchrun")
    if not emulate:
        return Placement(None, ifname or "lo", "local")  # loopback: nothing reachable from outside
    from raxlab import netemu

    netemu.require_netemu()
    netemu.sweep_stale()
    fab = stack.enter_context(netemu.build(emulate, ranks, mtu=mtu))  # a rate, unshaped, or a topology
    return Placement(fab, fab.ifname, "netns")


def _params(sweep, ranks, arm, place, env, emulate, torchrun_args) -> dict:
    fab = place.fabric
    ranks = None if torchrun_args is not None else ranks  # torchrun decides; the rows say how many
    return {**sweep.to_dict(), "ranks": ranks, "arm": arm.about, "launcher": place.launcher,
            "ifname": place.ifname, "env": env, "emulate": emulate,
            "fabric": fab.describe() if fab is not None else None, "torchrun_args": torchrun_args}


def run_comm(sweep: SweepOptions, *, ranks: int = 2, emulate: str | None = None, mtu: int | None = None,
             ifname: str | None = None, gid_index: int | None = None, torchrun_args: list[str] | None = None,
             master_port: int = 0, store: Store | str | None = None,
             on_event: Callable[[dict], None] | None = None) -> CommRun:
    """Run the sweep on `ranks` ranks and store it; raises RaxError (one line) on failure."""
    arm = transports.get_arm(sweep.transport)
    if ranks < 1:
        raise RaxError(f"need at least 1 rank, got {ranks}", field="--ranks")
    transports.arm_env(arm, gid_index=gid_index)  # flag misuse fails before anything starts
    if torchrun_args is None:
        transports.require_available(arm, ranks)
    db = store if isinstance(store, Store) else Store(store)
    with contextlib.ExitStack() as stack:
        stack.enter_context(terminate_as_interrupt())  # SIGTERM unwinds: ranks killed, fabric removed
        place = _place(stack, ranks, emulate, mtu, ifname, torchrun_args)
        log_dir = tempfile.mkdtemp(prefix="rax-comm-")
        stack.callback(shutil.rmtree, log_dir, ignore_errors=True)
        env = transports.arm_env(arm, ifname=place.ifname, gid_index=gid_index, log_dir=log_dir,
                                 emulated=place.fabric is not None)
        params = _params(sweep, ranks, arm, place, env, emulate, torchrun_args)
        run_id = db.new_run(RUN_KIND, params=params)
        from raxlab.measure.fingerprint import fingerprint

        db.add_fingerprint(run_id, fingerprint(), role="host")
        spec = LaunchSpec(WORKER, _worker_args(sweep, place, gid_index), ranks=ranks, env=env,
                          fabric=place.fabric, timeout_s=sweep.timeout_s, master_port=master_port,
                          setup_timeout_s=max(120.0, sweep.timeout_s), torchrun_args=torchrun_args)
        return _execute(db, run_id, spec, params, on_event)


def _execute(db: Store, run_id: str, spec: LaunchSpec, params: dict, on_event) -> CommRun:
    from raxlab.measure.busyness import recorded

    recorder = Recorder(db, run_id, on_event)
    t0 = time.perf_counter()
    try:
        with recorded(db, run_id, "collective benchmark"):  # other work through the run: warned, stored
            launch(spec, recorder.handle)
    except RankFailure as exc:
        recorder.record_failure(exc.status, str(exc))
        recorder.finish("failed", str(exc))
        raise
    except KeyboardInterrupt:
        recorder.record_failure("killed", "interrupted (Ctrl-C or SIGTERM)")
        recorder.finish("interrupted", "interrupted")
        raise
    except BaseException as exc:
        recorder.finish("failed", str(exc))
        raise
    summary = recorder.finish("complete")
    return CommRun(run_id, "complete", recorder.rows, summary["fits"], recorder.transport, params,
                   time.perf_counter() - t0, None, str(db.path), summary["peaks"])
