"""How a training job is laid out on the GPUs, and the checks that make a layout possible.

`Layout` is one explicit layout (what `rax predict` takes); `LayoutArrays` is many of them
as numpy arrays (what the planner enumerates). `check_layout` raises a one-line RaxError
naming the offending field; `layout_problems` is its vectorised twin returning a reason
code per candidate (0 = possible), so the planner can record why it pruned a candidate.

Rank order is Megatron's: tensor-parallel ranks are adjacent (inside a node), then data
parallel, then pipeline stages — so TP traffic stays on NVLink and DP/PP groups span nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from raxlab.errors import RaxError

RECOMPUTE = ("none", "selective", "full")
ATTN_CODE = {"unfused": 0, "flash": 1, "flash1": 2}
ATTENTION = ("flash", "flash1", "unfused")  # LayoutArrays.attn codes 1, 2, 0
ZERO3_GATHER = ("prefetch", "blocking")  # LayoutArrays.prefetch 1, 0 (see sharded.py)


@dataclass(frozen=True)
class Layout:
    """One layout. Grad accumulation (micro-batches per step) is derived, not given."""

    tp: int = 1
    pp: int = 1
    dp: int = 1
    micro_batch: int = 1
    global_batch: int = 1
    vpp: int = 1  # model chunks per pipeline stage (interleaved 1F1B); 1 = plain 1F1B
    zero: int = 0  # ZeRO stage 0-3; FSDP FULL_SHARD is 3, SHARD_GRAD_OP is 2
    recompute: str = "none"  # none | selective (attention core) | full (whole layer)
    sequence_parallel: bool = False
    # flash: FlashAttention-2-class fused causal kernel; flash1: the earlier FlashAttention/Triton
    # generation (25-40 % of A100 peak vs 50-73 %, Dao 2023); unfused: materialised s×s scores.
    attention: str = "flash"
    overlap_grad_reduce: bool = True  # DP gradient sync bucketed under backward
    grad_reduce_bytes: int = 2  # 4 when gradients are reduced in fp32 (FSDP mixed precision DEFAULT)
    param_gather_bytes: int = 2  # ZeRO-3/FSDP weight all-gather dtype (4: fp32 parameters)
    # prefetch: FSDP-style, next layer's gather under this layer's compute (NCCL ring, node rails
    # shared); blocking: DeepSpeed ZeRO-3 of 2021, serial per-parameter gathers (sharded.py).
    zero3_gather: str = "prefetch"

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.dp

    @property
    def grad_accum(self) -> int:
        """Micro-batches each pipeline runs per optimizer step."""
        return self.global_batch // (self.micro_batch * self.dp)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["grad_accum"] = self.grad_accum
        return d


def check_layout(lay: Layout, *, gpus: int | None = None, gpus_per_node: int | None = None,
                 heads: int | None = None, kv_heads: int | None = None, layers: int | None = None,
                 transformer: bool = True) -> None:
    """Raise a one-line RaxError naming the field when `lay` cannot run."""
    _check_enums(lay)
    for name in ("tp", "pp", "dp", "micro_batch", "global_batch", "vpp"):
        if int(getattr(lay, name)) < 1:
            raise RaxError(f"must be ≥ 1, got {getattr(lay, name)}", field=name)
    if gpus is not None and lay.gpus != gpus:
        raise RaxError(f"tp×pp×dp = {lay.tp}×{lay.pp}×{lay.dp} = {lay.gpus} ≠ {gpus} GPUs", field="gpus")
    if not transformer and (lay.tp > 1 or lay.pp > 1):
        field = "tp" if lay.tp > 1 else "pp"
        raise RaxError("this model is not a transformer: data parallel, ZeRO and FSDP only (tp = pp = 1)", field=field)
    if gpus_per_node and lay.tp > gpus_per_node:
        raise RaxError(f"tensor parallel {lay.tp} spans more than one node ({gpus_per_node} GPUs)", field="tp")
    if heads and heads % lay.tp:
        raise RaxError(f"{heads} attention heads are not divisible by tp {lay.tp}", field="tp")
    if kv_heads and lay.tp > kv_heads and lay.tp % kv_heads:
        raise RaxError(f"{kv_heads} KV heads cannot be split or replicated over tp {lay.tp}", field="tp")
    _check_pipeline(lay, layers)
    if lay.global_batch % (lay.micro_batch * lay.dp):
        raise RaxError(f"global batch {lay.global_batch} is not divisible by micro_batch×dp = "
                       f"{lay.micro_batch}×{lay.dp}", field="global_batch")


def _check_enums(lay: Layout) -> None:
    if lay.recompute not in RECOMPUTE:
        raise RaxError(f"unknown recompute {lay.recompute!r}; allowed: {', '.join(RECOMPUTE)}", field="recompute")
    if lay.attention not in ATTENTION:
        raise RaxError(f"unknown attention {lay.attention!r}; allowed: {', '.join(ATTENTION)}", field="attention")
    if lay.zero not in (0, 1, 2, 3):
        raise RaxError(f"ZeRO stage must be 0-3, got {lay.zero}", field="zero")
    if lay.zero3_gather not in ZERO3_GATHER:
        raise RaxError(f"unknown zero3_gather {lay.zero3_gather!r}; allowed: {', '.join(ZERO3_GATHER)}",
                       field="zero3_gather")
    for name in ("grad_reduce_bytes", "param_gather_bytes"):
        if getattr(lay, name) not in (1, 2, 4):
            raise RaxError(f"must be 1 (fp8), 2 (bf16/fp16) or 4 (fp32), got {getattr(lay, name)}", field=name)


def _check_pipeline(lay: Layout, layers: int | None) -> None:
    if lay.zero == 3 and lay.pp > 1:
        raise RaxError("ZeRO-3/FSDP shards weights across data parallel ranks and cannot be combined "
                       "with pipeline parallelism (pp > 1)", field="zero")
    if lay.vpp > 1 and lay.pp == 1:
        raise RaxError("interleaving needs pipeline parallelism (pp > 1)", field="vpp")
    if layers and layers % lay.pp:
        raise RaxError(f"{layers} layers are not divisible by pp {lay.pp}", field="pp")
    if layers and layers % (lay.pp * lay.vpp):
        raise RaxError(f"{layers} layers are not divisible by pp×vpp = {lay.pp}×{lay.vpp}", field="vpp")
    m = lay.global_batch // max(lay.micro_batch * lay.dp, 1)
    if lay.vpp > 1 and m % lay.pp:
        raise RaxError(f"the interleaved schedule needs micro-batches per step ({m}) divisible by pp {lay.pp}",
                       field="global_batch")


@dataclass
class LayoutArrays:
    """Many layouts as parallel numpy arrays (codes: recompute 0 none, 1 selective, 2 full)."""

    tp: np.ndarray
    pp: np.ndarray
    dp: np.ndarray
    mb: np.ndarray
    gb: np.ndarray
    vpp: np.ndarray
    zero: np.ndarray
    recompute: np.ndarray
    sp: np.ndarray
    attn: np.ndarray  # 0 unfused, 1 flash, 2 flash1
    overlap: np.ndarray
    grad_bytes: np.ndarray
    gather_bytes: np.ndarray
    prefetch: np.ndarray = field(default_factory=lambda: np.float64(1.0))  # ZeRO-3: 1 prefetch, 0 blocking

    def __len__(self) -> int:
        return int(np.size(self.tp))


def as_arrays(lay: Layout) -> LayoutArrays:
    """One layout as 0-d arrays (the scalar path of the shared core)."""
    return LayoutArrays(
        tp=np.float64(lay.tp), pp=np.float64(lay.pp), dp=np.float64(lay.dp), mb=np.float64(lay.micro_batch),
        gb=np.float64(lay.global_batch), vpp=np.float64(lay.vpp), zero=np.float64(lay.zero),
        recompute=np.float64(RECOMPUTE.index(lay.recompute)), sp=np.float64(lay.sequence_parallel),
        attn=np.float64(ATTN_CODE[lay.attention]), overlap=np.float64(lay.overlap_grad_reduce),
        grad_bytes=np.float64(lay.grad_reduce_bytes), gather_bytes=np.float64(lay.param_gather_bytes),
        prefetch=np.float64(lay.zero3_gather == "prefetch"))


def make_arrays(n: int | None = None, **cols) -> LayoutArrays:
    """Build a batch from columns (scalars broadcast). Defaults as in `Layout`."""
    defaults = dict(tp=1, pp=1, dp=1, mb=1, gb=1, vpp=1, zero=0, recompute=0, sp=0, attn=1, overlap=1, grad_bytes=2,
                    gather_bytes=2, prefetch=1)
    unknown = set(cols) - set(defaults)
    if unknown:
        raise RaxError(f"unknown layout column(s) {', '.join(sorted(unknown))}; known: {', '.join(defaults)}",
                       field="layout")
    merged = {**defaults, **cols}
    size = n or max(np.size(v) for v in merged.values())
    return LayoutArrays(**{k: np.broadcast_to(np.asarray(v, dtype=float), (size,)).copy() for k, v in merged.items()})


# Reason codes of `layout_problems` (0 = possible).
PROBLEMS = ("ok", "tp x pp x dp != gpus", "tp spans nodes", "heads % tp", "layers % (pp*vpp)",
            "global_batch % (micro_batch*dp)", "zero-3 with pp", "vpp without pp",
            "interleaving needs micro-batches % pp", "not a transformer: tp = pp = 1")


def layout_problems(la: LayoutArrays, gpus, gpus_per_node, heads=None, layers=None, transformer=True):
    """Vectorised `check_layout`: an int array of codes into PROBLEMS (first problem wins)."""
    m = la.gb / np.maximum(la.mb * la.dp, 1)
    checks = [
        la.tp * la.pp * la.dp != gpus,
        la.tp > gpus_per_node,
        (np.mod(heads, la.tp) != 0) if heads else np.zeros(len(la), bool),
        (np.mod(layers, la.pp * la.vpp) != 0) if layers else np.zeros(len(la), bool),
        np.mod(la.gb, la.mb * la.dp) != 0,
        (la.zero == 3) & (la.pp > 1),
        (la.vpp > 1) & (la.pp == 1),
        (la.vpp > 1) & (np.mod(m, la.pp) != 0),
        (not transformer) & ((la.tp > 1) | (la.pp > 1)),
    ]
    code = np.zeros(len(la), dtype=np.int8)
    for i in range(len(checks), 0, -1):  # reverse so the first failing check wins
        code = np.where(checks[i - 1], i, code)
    return code
