"""One small spec per collective, in the shape of nccl-tests' `struct testColl`.

Each `Coll` says how many elements each rank sends and receives for a requested
size (`counts`, nccl-tests `*GetCollByteCount`), which size the bandwidth is computed
from (`size_is_recv`), its busbw factor (`factor`, nccl-tests `*GetBw`), how to fill the
input (`init_bufs`), how to run it (`run`) and the exact expected output (`expected`).

Definitions (nccl-tests doc/PERFORMANCE.md, ../shared/reference/measurement.md §1.1):
algbw = S / t with GB/s = 1e9 B/s; busbw = algbw x factor(n) with all-reduce 2(n-1)/n,
all-gather, reduce-scatter and all-to-all (n-1)/n where S is the *whole* buffer, and
broadcast and send/recv 1. For the three "whole buffer" collectives the per-rank chunk
is size/n rounded down to 16-byte alignment, as nccl-tests does, and the size reported
is the one actually moved, so sizes that are not multiples of the rank count work.

Correctness (nccl-tests verifiable.h idea: data crafted so results are exact): rank r
holds (r + i) mod m at element i, with m chosen so every sum stays a small integer,
exact in bf16 (8 significant bits: integers up to 256) and fp16 (up to 2048).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.distributed as dist

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# nccl-tests type column names
TYPE_NAMES = {"fp32": "float", "bf16": "bfloat16", "fp16": "half"}
ALIGN_BYTES = 16  # nccl-tests: per-rank chunk rounded down to 16-byte alignment


def modulus(n: int) -> int:
    """Pattern period so the sum over n ranks is <= 256 (exact in bf16)."""
    return max(2, min(16, 256 // max(n, 1)))


def pattern(rank: int, idx: torch.Tensor, n: int) -> torch.Tensor:
    """The verifiable value of element(s) `idx` on `rank`: small non-negative integers."""
    if n > 256:  # one-hot: every sum is exactly 1, whatever the rank count
        return (idx % n == rank).to(torch.int32)
    return (idx + rank) % modulus(n)


def pattern_sum(idx: torch.Tensor, n: int) -> torch.Tensor:
    out = torch.zeros_like(idx)
    for r in range(n):
        out += pattern(r, idx, n)
    return out


def _chunk(size: int, es: int, n: int) -> int:
    """Per-rank element count of a whole-buffer collective (nccl-tests rounding)."""
    per = (size // es) // n
    return per - per % max(1, ALIGN_BYTES // es)


@dataclass
class Bufs:
    send: torch.Tensor
    recv: torch.Tensor
    rank: int
    n: int
    chunk: int  # per-rank element count (the nccl-tests paramcount)


@dataclass(frozen=True)
class Coll:
    name: str
    factor: Callable[[int], float]
    counts: Callable[[int, int, int], tuple[int, int, int]]  # (size, elsize, n) -> send, recv, chunk
    run: Callable[[Bufs], None]
    expected: Callable[[Bufs], torch.Tensor]  # exact result in `recv`
    in_place: bool = False  # recv is send (all_reduce, broadcast)
    size_is_recv: bool = False  # S is the receive buffer (all_gather), else the send buffer

    def size_bytes(self, size: int, es: int, n: int) -> int:
        """Bytes S actually moved for a requested `size` (0: too small to run)."""
        send, recv, _ = self.counts(size, es, n)
        return (recv if self.size_is_recv else send) * es

    def busbw(self, algbw: float, n: int) -> float:
        return algbw * self.factor(n)


def _idx(count: int) -> torch.Tensor:
    return torch.arange(count, dtype=torch.int32)


def init_bufs(coll: Coll, size: int, dtype: torch.dtype, rank: int, n: int, device) -> Bufs:
    es = torch.empty((), dtype=dtype).element_size()
    send_count, recv_count, chunk = coll.counts(size, es, n)
    send = pattern(rank, _idx(send_count), n).to(dtype).to(device)
    recv = send if coll.in_place else torch.full((recv_count,), -1, dtype=dtype, device=device)
    return Bufs(send, recv, rank, n, chunk)


def count_wrong(coll: Coll, bufs: Bufs) -> int:
    """Elements of the result that differ from the exact expectation."""
    want = coll.expected(bufs)
    got = bufs.recv.detach().to("cpu", torch.float64)
    return int((got != want.to(torch.float64)).sum().item())


# --- the specs -------------------------------------------------------------------
def _same(size, es, n):
    return size // es, size // es, size // es


def _ag_counts(size, es, n):
    c = _chunk(size, es, n)
    return c, c * n, c


def _rs_counts(size, es, n):
    c = _chunk(size, es, n)
    return c * n, c, c


def _a2a_counts(size, es, n):
    c = _chunk(size, es, n)
    return c * n, c * n, c


def _all_gather(b: Bufs) -> None:
    fn = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
    fn(b.recv, b.send)


def _reduce_scatter(b: Bufs) -> None:
    fn = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor
    fn(b.recv, b.send)


def _send_recv(b: Bufs) -> None:
    # nccl-tests sendrecv: each rank sends to rank+1 and receives from rank-1 at once.
    nxt, prv = (b.rank + 1) % b.n, (b.rank - 1) % b.n
    ops = [dist.P2POp(dist.isend, b.send, nxt), dist.P2POp(dist.irecv, b.recv, prv)]
    for work in dist.batch_isend_irecv(ops):
        work.wait()


def _exp_all_reduce(b):
    return pattern_sum(_idx(b.send.numel()), b.n)


def _exp_all_gather(b):
    return torch.cat([pattern(r, _idx(b.chunk), b.n) for r in range(b.n)])


def _exp_reduce_scatter(b):
    return pattern_sum(_idx(b.chunk) + b.rank * b.chunk, b.n)


def _exp_all_to_all(b):
    # block j of the output is block `rank` of rank j's input
    return torch.cat([pattern(j, _idx(b.chunk) + b.rank * b.chunk, b.n) for j in range(b.n)])


def _exp_broadcast(b):
    return pattern(0, _idx(b.send.numel()), b.n)


def _exp_send_recv(b):
    return pattern((b.rank - 1) % b.n, _idx(b.send.numel()), b.n)


def _ring(n):
    return 2 * (n - 1) / n


def _part(n):
    return (n - 1) / n


def _one(n):
    return 1.0


COLLS: dict[str, Coll] = {c.name: c for c in (
    Coll("all_reduce", _ring, _same, lambda b: dist.all_reduce(b.send), _exp_all_reduce, in_place=True),
    Coll("all_gather", _part, _ag_counts, _all_gather, _exp_all_gather, size_is_recv=True),
    Coll("reduce_scatter", _part, _rs_counts, _reduce_scatter, _exp_reduce_scatter),
    Coll("broadcast", _one, _same, lambda b: dist.broadcast(b.send, 0), _exp_broadcast, in_place=True),
    Coll("all_to_all", _part, _a2a_counts, lambda b: dist.all_to_all_single(b.recv, b.send), _exp_all_to_all),
    Coll("send_recv", _one, _same, _send_recv, _exp_send_recv),
)}
