"""Recording a multi-node launch: one stored run, opened by the node that runs global rank 0.

Every node's `rax launch --execute` reads its own ranks' protocol lines. Only the node
with global rank 0 sees the results (rank 0 reports them), so the run is opened when
rank 0's first event arrives, with the params a `rax bench comm|ddp` run has plus the
launch (nodes, processes per node, rendezvous, torchrun arguments), and recorded by the
bench's own Recorder, so stored launches read like local runs everywhere (runs show,
report, plan, calibrate). Fingerprints come from rank 0's "fingerprints" event, one per
node (roles node0, node1, ...). Events of other local ranks that arrive before the run
exists are kept and replayed.
"""

from __future__ import annotations

from typing import Callable

from raxlab.launch.cluster import ClusterSpec
from raxlab.launch.job import Job
from raxlab.launch.netaddr import Binding
from raxlab.store import Store


def preflight(job: Job, local_ranks: int) -> None:
    """Fail in one line before torchrun starts: the arm must run here; a DDP workload must load."""
    from raxlab.measure.comm import transports

    if job.kind == "ddp":
        from raxlab.measure.ddp import prepare

        wl, arm = prepare(job.options, job.transport, local_ranks)  # resolves the batch
        job.extra["workload"] = wl
        job.worker_args = job.options.to_args() + ["--transport", arm.name]
    else:
        transports.require_available(transports.get_arm(job.transport), local_ranks)


def _params(job: Job, spec: ClusterSpec, b: Binding, env: dict, targs: list[str]) -> dict:
    from raxlab.measure.comm import transports

    arm = transports.get_arm(job.transport)
    launch = {"launcher": "torchrun", "ranks": spec.world_size, "nodes": spec.nnodes,
              "nproc_per_node": spec.nproc_per_node, "rdzv_endpoint": spec.endpoint, "rdzv_id": spec.rdzv_id,
              "ifname": b.ifname, "env": env, "emulate": None, "fabric": None, "torchrun_args": targs,
              "command": job.command}
    if job.kind == "comm":
        return {**job.options.to_dict(), "arm": arm.about, **launch}
    return {**job.options.to_dict(), "transport": arm.name, "arm": arm.about, **launch}


class RunSink:
    """Feeds this node's rank events to the bench's Recorder once rank 0 has spoken."""

    def __init__(self, job: Job, spec: ClusterSpec, b: Binding, env: dict, targs: list[str],
                 store: Store | str | None, on_event: Callable[[dict], None] | None, on_joined: Callable[[], None]):
        self.job, self.spec = job, spec
        self.params = _params(job, spec, b, env, targs)
        self.store_ref, self.on_event, self.on_joined = store, on_event or (lambda ev: None), on_joined
        self.db: Store | None = None
        self.run_id: str | None = None
        self.rec = None
        self.pending: list[dict] = []
        self.joined: set[int] = set()
        self.nodes: list[dict] = []
        self.status: str | None = None
        self.summary: dict = {}

    def handle(self, ev: dict) -> None:
        kind, rank = ev.get("ev"), ev.get("rank")
        if kind == "joined":
            self.joined.add(int(ev.get("node_rank", -1)))
            self.on_joined()
        if self.rec is None and rank == 0:
            self._open()
        if kind == "fingerprints" and self.rec is not None:
            self._fingerprints(ev["items"])
        elif self.rec is None:
            self.pending.append(ev)
            self.on_event(ev)
        else:
            self.rec.handle(ev)

    def _open(self) -> None:
        self.db = self.store_ref if isinstance(self.store_ref, Store) else Store(self.store_ref)
        if self.job.kind == "comm":
            from raxlab.measure.comm.record import RUN_KIND, Recorder

            self.run_id = self.db.new_run(RUN_KIND, params=self.params)
            self.rec = Recorder(self.db, self.run_id, self.on_event)
        else:
            from raxlab.measure.ddp import RUN_KIND, Recorder

            wl = self.job.extra["workload"]
            self.run_id = self.db.new_run(RUN_KIND, workload=wl.name, spec=wl.spec.model_dump(), params=self.params)
            self.rec = Recorder(self.db, self.run_id, self.spec.world_size, self.on_event)
        pending, self.pending = self.pending, []
        for ev in pending:
            if ev.get("ev") not in ("fingerprints", "joined"):
                self.rec.handle(ev)

    def _fingerprints(self, items: list[dict]) -> None:
        for item in items:
            self.db.add_fingerprint(self.run_id, item["fingerprint"], role=item["role"])
        self.nodes = [{"role": i["role"], **(i["fingerprint"].get("node") or {})} for i in items]
        self.on_event({"ev": "fingerprints", "roles": [i["role"] for i in items]})

    def fail(self, status: str, error: str) -> None:
        if self.rec is None:
            return
        if self.job.kind == "comm":
            self.rec.record_failure(status, error)
            self.rec.finish("failed" if status != "killed" else "interrupted", error)
        else:
            self.rec.finish("failed" if status != "killed" else "interrupted", error, point_status=status)
        self.status = "failed" if status != "killed" else "interrupted"

    def finish(self) -> None:
        if self.rec is None:
            return
        out = self.rec.finish("complete")
        self.status = "complete"
        self.summary = {"points": out.get("points"), "peaks": out.get("peaks")} if self.job.kind == "comm" else {
            k: out.get(k) for k in ("samples_per_s", "scaling_efficiency", "exposed_comm_share", "step")}

    def result(self) -> dict:
        return {"run_id": self.run_id, "status": self.status, "nodes": self.nodes, "summary": self.summary,
                "store_path": str(self.db.path) if self.db is not None else None}
