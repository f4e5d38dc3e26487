"""Re-run, on the delivered cluster, the measurements a plan's projection depends on.

Two `rax bench` commands, each distributed over the plan's nodes with `rax launch`
(one torchrun per node, run this on every node with the same arguments):

    rax bench comm --collectives all_reduce[,all_to_all] -b 1M -e MAX -f 4 ...   the fabric: all ranks
                                       (all-to-all when the plan sets a threshold for it)
    rax bench ddp WORKLOAD --micro-batch MICRO --precision P [--fsdp] ...   1-rank, no_sync and synced steps

Measurement k uses the rendezvous port + k, so a node that starts the next measurement
early can never join the previous one's rendezvous store while it closes. The node that
runs global rank 0 stores both runs and returns their ids; the others return None.
The transport follows the plan's fabric (RDMA: nccl-ib; TCP: nccl-socket on GPUs, gloo on
CPU) unless --transport says otherwise; on two nodes NCCL_ALGO=Ring, so the ring over the
fabric is what is measured (../shared/reference/measurement.md §1.6, §2.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from raxlab.accept.plan import Target
from raxlab.launch.cluster import DEFAULT_PORT, DEFAULT_RDZV_TIMEOUT_S, ClusterSpec
from raxlab.launch.job import parse_bench


@dataclass
class AcceptOptions:
    rdzv_host: str = "127.0.0.1"
    rdzv_port: int = DEFAULT_PORT
    rdzv_id: str | None = None
    rdzv_timeout_s: float = DEFAULT_RDZV_TIMEOUT_S
    ifname: str | None = None
    node_rank: int | None = None
    transport: str | None = None
    comm_max_bytes: str = "256M"  # nccl-tests' large sizes; the peak busbw is the fit's β there
    comm_iters: int = 20
    ddp_steps: int = 10
    ddp_warmup: int = 3
    ddp_max_seconds: float = 120.0


def transport_for(t: Target, cat, o: AcceptOptions) -> str:
    if o.transport:
        return o.transport
    import torch

    rdma = bool(t.fabric) and cat.fabric(t.fabric).rdma
    return "nccl-ib" if rdma else "nccl-socket" if torch.cuda.is_available() else "gloo"


def bench_commands(t: Target, arm: str, o: AcceptOptions) -> dict[str, list[str]]:
    """The `rax bench` commands accept runs, by check family (fabric only across nodes)."""
    lay = t.layout
    ddp = ["rax", "bench", "ddp", t.workload, "--micro-batch", str(lay.get("micro_batch") or 1), "--precision",
           t.precision, "--steps", str(o.ddp_steps), "--warmup", str(o.ddp_warmup), "--max-seconds",
           f"{o.ddp_max_seconds:g}", "--transport", arm] + (["--fsdp"] if (lay.get("zero") or 0) == 3 else [])
    out = {"ddp": ddp}
    if t.nodes > 1:
        colls = "all_reduce,all_to_all" if any(r["collective"] == "all_to_all" for r in t.thresholds) else "all_reduce"
        out = {"comm": ["rax", "bench", "comm", "--collectives", colls, "-b", "1M", "-e", o.comm_max_bytes,
                        "-f", "4", "--iters", str(o.comm_iters), "--warmup", "2", "--transport", arm], **out}
    return out


def measure(t: Target, cat, o: AcceptOptions, store, on_event: Callable[[dict], None] | None = None) -> dict:
    """Run each measurement over the plan's nodes; {kind: run id (rank 0's node) or None}."""
    from raxlab.measure.launch_cluster import execute_node

    arm = transport_for(t, cat, o)
    runs = {}
    for k, (kind, argv) in enumerate(bench_commands(t, arm, o).items()):
        job = parse_bench(argv)
        if kind == "comm" and t.nodes == 2 and arm.startswith("nccl"):
            job.extra["env"] = {"NCCL_ALGO": "Ring"}
        spec = ClusterSpec(t.nodes, t.gpus_per_node, o.rdzv_host, o.rdzv_port + k,
                           f"{o.rdzv_id}-{kind}" if o.rdzv_id else None, o.rdzv_timeout_s, o.ifname,
                           o.node_rank).validate().with_id(job)
        if on_event:
            on_event({"ev": "measure", "kind": kind, "command": argv})
        runs[kind] = execute_node(spec, job, store=store, on_event=on_event).run_id
    return runs
