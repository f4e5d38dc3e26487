"""The parent side of `rax bench ddp`: the user's training step under DDP/FSDP over N ranks.

    run = run_ddp(DdpOptions("tiny-lm", steps=10).validate(), ranks=2, transport="gloo", emulate="1gbit")

One stored run (kind "bench.ddp") per call: params (options, ranks, arm, environment,
fabric), the host fingerprint, the point "warm-up" when it completes, then one point per
measured step kind, each with the raw per-round samples (the slowest rank's seconds):
"1-rank step" (rank 0 alone, same per-rank batch: the weak-scaling baseline), "ddp step"
(synced) and "ddp no_sync step" (expert parallel, `--ep`: also the all-to-all and tokens-per-
expert points of `moe_record`); artifacts "ddp_setup" (model, gradient bytes, buckets),
"ddp_transport" (verified per rank) and "ddp" (the derived figures, `derive`). The step
kinds are interleaved round by round (ddp_train), so drift hits them alike. A failure
(dead or hung rank, wrong transport, Ctrl-C, SIGTERM) kills every rank, removes the
fabric, stores each step kind with the rounds it completed and the reason, and marks the
run failed or interrupted.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

from raxlab.errors import RaxError
from raxlab.measure import moe_record
from raxlab.measure.comm import transports
from raxlab.measure.comm.launch import LaunchSpec, RankFailure, launch
from raxlab.measure.ddp_options import DdpOptions
from raxlab.netemu.cleanup import terminate_as_interrupt
from raxlab.store import Store

WORKER = "raxlab.measure.ddp_worker"
RUN_KIND, POINT_KIND = "bench.ddp", "ddp"
NETNS_PORT = 29500  # a fresh namespace has no other listener: a fixed port lets all ranks start at once
PHASES = {"single_s": "1-rank step", "sync_s": "ddp step", "nosync_s": "ddp no_sync step"}
SPLIT_METHOD = ("no_sync: each round times a synced step and a step under no_sync() (same forward, backward "
                "and optimizer step, no gradient communication), interleaved; compute = median(no_sync), "
                "exposed communication = median(synced) - median(no_sync)")
FSDP_NOTE = "FSDP: no_sync skips only the gradient reduce-scatter; parameter all-gathers stay in both steps"


@dataclass
class Placement:
    """Where the ranks run: an emulated fabric (or None), the interface, the port, the launcher."""

    fabric: object | None
    ifname: str | None
    master_port: int
    launcher: str

    def describe(self) -> dict | None:
        return self.fabric.describe() if self.fabric is not None else None


def place(stack: contextlib.ExitStack, ranks: int, emulate: str | None, mtu: int | None = None,
          master_port: int = 0) -> Placement:
    """Local ranks on loopback, or ranks in the namespaces of the fabric `emulate` names (netemu.build)."""
    if not emulate:
        return Placement(None, "lo", master_port, "local")
    from raxlab import netemu

    netemu.require_netemu()
    netemu.sweep_stale()
    fab = stack.enter_context(netemu.build(emulate, ranks, mtu=mtu))  # a rate, unshaped, or a topology
    return Placement(fab, fab.ifname, master_port or NETNS_PORT, "netns")


def prepare(opts: DdpOptions, transport: str, ranks: int):
    """Checks that fail in one line before any rank starts; returns (workload, arm)."""
    from raxlab.measure.device import check_precision
    from raxlab.measure.isolate import Unsupported
    from raxlab.workload import load_workload

    arm = transports.get_arm(transport)
    if ranks < 1:
        raise RaxError(f"need at least 1 rank, got {ranks}", field="--ranks")
    transports.require_available(arm, ranks)
    wl = load_workload(opts.workload, trust_code=opts.trust_code)
    if wl.meta_only:
        hint = f"; measure its proxy as {opts.workload}@proxy" if wl.spec.proxy is not None else ""
        raise RaxError(f"workload {wl.name!r} is meta_only (card only); it cannot be trained here{hint}",
                       field="workload")
    opts.batch = opts.batch or wl.spec.micro_batch
    opts.resolve_ep(wl.layer_shape, ranks)
    try:
        check_precision(opts.precision, "cuda" if arm.backend == "nccl" else "cpu")
    except Unsupported as exc:
        raise RaxError(f"{opts.precision} on {'GPU' if arm.backend == 'nccl' else 'CPU'}: {exc}",
                       field="--precision") from None
    return wl, arm


def worker_args(opts: DdpOptions, arm, placement: Placement) -> list[str]:
    args = opts.to_args() + ["--transport", arm.name, "--ifname", placement.ifname or "lo"]
    return args + (["--emulated"] if placement.fabric is not None else [])


def round_times(ev: dict) -> dict:
    """The seconds of one round's step kinds (None: not run), without the protocol fields."""
    return {k: ev.get(k) for k in PHASES}


def derive(samples: dict[str, list[float]], setup: dict, ranks: int) -> dict:
    """Step statistics, throughput, scaling efficiency and the compute/communication split."""
    from raxlab.stats import ratio_of_medians_ci, summarize

    sync = samples.get("sync_s") or []
    if not sync:
        return {"complete": False}
    step = summarize(sync)
    batch = setup.get("batch_per_rank") or 0
    out = {"step": step.to_dict(), "samples_per_s": ranks * batch / step.median,
           "tokens_per_s": ranks * batch * setup["tokens_per_sample"] / step.median
           if setup.get("tokens_per_sample") else None, "grad_bytes_per_step": setup.get("grad_bytes"),
           "bucket_cap_mb": setup.get("bucket_cap_mb"), "ranks": ranks, "batch_per_rank": batch}
    if samples.get("single_s"):
        single = summarize(samples["single_s"])
        out.update(single_step=single.to_dict(), scaling_efficiency=single.median / step.median,
                   scaling_basis="weak scaling: median 1-rank step / median N-rank step, same batch per rank")
    if samples.get("nosync_s") and len(sync) >= 2:
        nosync = summarize(samples["nosync_s"])
        _, lo, hi = ratio_of_medians_ci(sync, samples["nosync_s"])
        out.update(nosync_step=nosync.to_dict(), compute_s=nosync.median,
                   exposed_comm_s=step.median - nosync.median,
                   exposed_comm_share=1 - nosync.median / step.median,
                   exposed_comm_share_ci=[1 - 1 / lo, 1 - 1 / hi],
                   split_method=SPLIT_METHOD + ("; " + FSDP_NOTE if setup.get("wrapper", "").startswith("fsdp")
                                                else ""))
    return out


@dataclass
class DdpRun:
    run_id: str
    status: str
    params: dict
    setup: dict
    derived: dict
    transport: dict
    wall_s: float
    store_path: str
    samples: dict = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class Recorder:
    """Turns rank events into store records as they arrive."""

    def __init__(self, store: Store, run_id: str, ranks: int, on_event: Callable[[dict], None] | None):
        self.store, self.run_id, self.ranks = store, run_id, ranks
        self.on_event = on_event or (lambda ev: None)
        self.samples: dict[str, list[float]] = {k: [] for k in PHASES}
        self.warm: list[dict] = []
        self.setup: dict = {}
        self.ep_rounds: list[dict] = []  # expert-parallel figures per round (moe_record)
        self.transport: dict = {}
        self.done: dict = {}

    def handle(self, ev: dict) -> None:
        kind = ev.get("ev")
        if kind == "warm":
            self.warm.append(round_times(ev))
        elif kind == "setup":
            self.setup = ev["info"]
            self.store.put_artifact(self.run_id, "ddp_setup", self.setup)
            self.store.add_point(self.run_id, POINT_KIND, "warm-up", "ok", params={"rounds": len(self.warm)},
                                 result={"rounds": self.warm}, samples=[w["sync_s"] for w in self.warm])
        elif kind == "round":
            for key in PHASES:
                if ev.get(key) is not None:
                    self.samples[key].append(ev[key])
            if moe_record.is_ep_round(ev):
                self.ep_rounds.append(moe_record.round_record(ev))
        elif kind == "transport":
            self.transport[str(ev.get("rank", 0))] = ev["info"]
            self.store.put_artifact(self.run_id, "ddp_transport", self.transport)
        elif kind == "done":
            self.done = ev
        self.on_event(ev)

    def finish(self, status: str, error: str | None = None, point_status: str = "ok") -> dict:
        for key, name in PHASES.items():
            got = self.samples[key]
            if got or point_status != "ok":
                self.store.add_point(self.run_id, POINT_KIND, name, point_status, samples=got, error=error,
                                     params={"rounds": len(got)}, result=_summary(got))
        if self.ep_rounds or (self.setup.get("ep") and point_status != "ok"):
            moe_record.store_points(self.store, self.run_id, POINT_KIND, self.ep_rounds, point_status, error)
        derived = {**derive(self.samples, self.setup, self.ranks), **moe_record.derive(self.ep_rounds, self.setup),
                   **{k: v for k, v in self.done.items() if k.startswith("loss")}}
        self.store.put_artifact(self.run_id, "ddp", derived)
        self.store.finish_run(self.run_id, status, summary={"error": error, **_headline(derived)})
        return derived


def _summary(samples: list[float]) -> dict | None:
    from raxlab.stats import summarize

    return summarize(samples).to_dict() if samples else None


def _headline(d: dict) -> dict:
    keys = ("samples_per_s", "scaling_efficiency", "exposed_comm_share")
    return {k: d.get(k) for k in keys} | {"step_median_s": (d.get("step") or {}).get("median")}


def run_ddp(opts: DdpOptions, *, ranks: int = 2, transport: str = "gloo", emulate: str | None = None,
            mtu: int | None = None, master_port: int = 0, store: Store | str | None = None,
            on_event: Callable[[dict], None] | None = None) -> DdpRun:
    """Measure the training step on `ranks` ranks and store it; raises RaxError on failure."""
    wl, arm = prepare(opts.validate(), transport, ranks)
    db = store if isinstance(store, Store) else Store(store)
    with contextlib.ExitStack() as stack:
        stack.enter_context(terminate_as_interrupt())  # SIGTERM unwinds: ranks killed, fabric removed
        where = place(stack, ranks, emulate, mtu, master_port)
        log_dir = tempfile.mkdtemp(prefix="rax-ddp-")
        stack.callback(shutil.rmtree, log_dir, ignore_errors=True)
        env = transports.arm_env(arm, ifname=where.ifname, log_dir=log_dir, emulated=where.fabric is not None)
        params = {**opts.to_dict(), "ranks": ranks, "transport": arm.name, "arm": arm.about, "emulate": emulate,
                  "launcher": where.launcher, "env": env, "fabric": where.describe()}
        run_id = db.new_run(RUN_KIND, workload=wl.name, spec=wl.spec.model_dump(), params=params)
        from raxlab.measure.fingerprint import fingerprint

        db.add_fingerprint(run_id, fingerprint(), role="host")
        spec = LaunchSpec(WORKER, worker_args(opts, arm, where), ranks=ranks, env=env, fabric=where.fabric,
                          timeout_s=opts.timeout_s, master_port=where.master_port,
                          setup_timeout_s=max(180.0, opts.timeout_s))
        return _execute(db, run_id, spec, params, Recorder(db, run_id, ranks, on_event))


def _execute(db: Store, run_id: str, spec: LaunchSpec, params: dict, rec: Recorder) -> DdpRun:
    from raxlab.measure.busyness import recorded

    t0 = time.perf_counter()
    try:
        with recorded(db, rec.run_id, "DDP benchmark"):  # other work through the run: warned, stored
            launch(spec, rec.handle)
    except RankFailure as exc:
        rec.finish("failed", str(exc), point_status=exc.status)
        raise
    except KeyboardInterrupt:
        rec.finish("interrupted", "interrupted (Ctrl-C or SIGTERM)", point_status="killed")
        raise
    except BaseException as exc:
        rec.finish("failed", str(exc), point_status="failed")
        raise
    derived = rec.finish("complete")
    return DdpRun(run_id, "complete", params, rec.setup, derived, rec.transport, time.perf_counter() - t0,
                  str(db.path), rec.samples)
