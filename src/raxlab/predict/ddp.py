"""Step time of data-parallel training from a measured single-rank step and a measured α-β fit.

PyTorch DDP (Li et al., "PyTorch Distributed", VLDB 2020, §3.2-3.3) splits the gradients into
buckets (`bucket_cap_mb`, 25 MiB; the first bucket 1 MiB, torch.distributed
`_DEFAULT_FIRST_BUCKET_BYTES`), in the order the backward pass produces them, and starts each
bucket's all-reduce as soon as its last gradient is ready, on a communication stream (NCCL) or
gloo's worker thread, while the backward continues. The all-reduces run one after another over
the link. So, with bucket i ready at r_i and taking c_i to all-reduce:

    finish_i = max(r_i, finish_{i-1}) + c_i          exposed = max(finish_last − backward, 0)
    step     = compute step (no communication) + exposed

Gradients are taken to become ready in proportion to the bytes the backward has passed
(r_i = backward × bytes up to bucket i / all bytes): backward work per weight scales with its
size for dense layers, an approximation for embeddings. c_i is the ring all-reduce of the α-β
model (`collectives.ring_allreduce`): 2(p−1)·α + 2(p−1)/p · n_i / busbw, with α per ring step
and busbw the measured bus bandwidth (`CommFit`). Compute and communication are assumed not to
slow each other down (on a CPU, gloo's threads share the cores with the backward).

`scale_fit` moves a fit to another line rate of the same kind of link: the bandwidth scales with
the rate (the achieved fraction of line rate carries over), the per-step latency stays.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from raxlab.errors import RaxError
from raxlab.predict.collectives import ring_allreduce
from raxlab.predict.hardware import CommFit

FIRST_BUCKET_BYTES = 2**20  # torch.distributed._DEFAULT_FIRST_BUCKET_BYTES
BUCKET_CAP_BYTES = 25 * 2**20  # DDP bucket_cap_mb default
BACKWARD_SHARE = 2.0 / 3.0  # backward FLOPs ÷ forward+backward (2:1, Narayanan et al. 2021 §5.1)


@dataclass(frozen=True)
class DdpPrediction:
    step_s: float
    compute_s: float
    exposed_comm_s: float
    comm_s: float  # all buckets' all-reduce time, hidden or not
    buckets: int
    ranks: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def buckets_for(grad_bytes: float, cap_bytes: float = BUCKET_CAP_BYTES,
                first_bytes: float = FIRST_BUCKET_BYTES) -> list[float]:
    """DDP's bucket sizes for `grad_bytes` of gradients (use the measured sizes when known)."""
    if grad_bytes <= 0:
        return []
    sizes = [min(first_bytes, grad_bytes)]
    rest = grad_bytes - sizes[0]
    while rest > 0:
        sizes.append(min(cap_bytes, rest))
        rest -= sizes[-1]
    return sizes


def scale_fit(fit: CommFit, from_rate: float, to_rate: float) -> CommFit:
    """The fit on a link of `to_rate` (same units as `from_rate`): bandwidth × rate ratio, same α."""
    if from_rate <= 0 or to_rate <= 0:
        raise RaxError(f"link rates must be > 0, got {from_rate} and {to_rate}", field="rate")
    return replace(fit, busbw_Bps=fit.busbw_Bps * to_rate / from_rate,
                   source=f"{fit.source}, scaled from {from_rate:g} to {to_rate:g} (bandwidth only)")


def exposed_comm(bucket_bytes: list[float], backward_s: float, fit: CommFit, ranks: int) -> tuple[float, float]:
    """(exposed seconds after the backward, total all-reduce seconds) of DDP's bucketed sync."""
    sizes = np.asarray(bucket_bytes, dtype=float)
    if ranks < 2 or sizes.size == 0:
        return 0.0, 0.0
    ready = backward_s * np.cumsum(sizes) / sizes.sum()
    cost = ring_allreduce(sizes, ranks, fit.alpha_s, fit.busbw_Bps)
    finish = 0.0
    for r, c in zip(ready, cost):
        finish = max(r, finish) + c
    return max(finish - backward_s, 0.0), float(cost.sum())


def predict_ddp_step(compute_s: float, fit: CommFit, ranks: int, *, grad_bytes: float | None = None,
                     bucket_bytes: list[float] | None = None, backward_s: float | None = None) -> DdpPrediction:
    """DDP step on `ranks` ranks: `compute_s` is the measured step without gradient communication
    (one rank alone, or DDP under no_sync); `backward_s` defaults to 2/3 of it."""
    if compute_s <= 0:
        raise RaxError(f"the measured compute step must be > 0 s, got {compute_s}", field="compute_s")
    if bucket_bytes is None:
        if grad_bytes is None:
            raise RaxError("give the gradient bytes or the measured DDP bucket sizes", field="grad_bytes")
        bucket_bytes = buckets_for(grad_bytes)
    bwd = BACKWARD_SHARE * compute_s if backward_s is None else backward_s
    exposed, total = exposed_comm(bucket_bytes, bwd, fit, ranks)
    return DdpPrediction(step_s=compute_s + exposed, compute_s=compute_s, exposed_comm_s=exposed, comm_s=total,
                         buckets=len(bucket_bytes), ranks=ranks)
