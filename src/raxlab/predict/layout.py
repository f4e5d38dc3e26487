"""How a training job is laid out on the GPUs, and the checks that make a layout possible.

`Layout` is one explicit layout (what `rax predict` takes); `LayoutArrays` is many of them
as numpy arrays (what the planner enumerates). `check_layout` raises a one-line RaxError
naming the offending field; `layout_problems` is its vectorised twin returning a reason
code per candidate (0 = possible), so the planner can record why it pruned a candidate.

Rank order is Megatron's: tensor-parallel ranks are adjacent (inside a node), then context
parallel, then data parallel, then pipeline stages — so TP traffic stays on NVLink and DP/PP
groups span nodes.

Expert and context parallelism follow Megatron-Core's "MoE Parallel Folding" (Megatron-LM
`megatron/core/transformer/moe/README.md`, MCore ≥ v0.10; Liu et al. 2025, arXiv:2504.14960):
attention and the dense parts use the groups tp-cp-dp-pp, so world = TP·PP·CP·DP; the expert
layers use etp-ep-edp-pp over the same GPUs, so the EP×ETP group is a sub-group of TP·CP·DP:
ETP·EP must divide TP·CP·DP, and the expert-data-parallel size is EDP = TP·CP·DP / (ETP·EP)
(expert gradients are reduced over EDP, dense ones over DP·CP). ETP defaults to TP, as
Megatron-Core's `--expert-tensor-parallel-size` does. EP must divide the number of experts.
With causal masking, context parallelism splits each sequence into 2·CP chunks for load
balance, so the sequence must be divisible by 2·CP (Megatron-Core / Transformer Engine).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from raxlab.errors import RaxError

RECOMPUTE = ("none", "selective", "full")
ATTN_CODE = {"unfused": 0, "flash": 1, "flash1": 2, "fused": 3}
ATTENTION = ("flash", "fused", "flash1", "unfused")  # LayoutArrays.attn codes 1, 3, 2, 0
ZERO3_GATHER = ("prefetch", "blocking")  # LayoutArrays.prefetch 1, 0 (see sharded.py)
CP_COMM = ("ring", "all_gather")  # LayoutArrays.cp_ag 0, 1 (see context.py)
EP_DISPATCH = ("alltoall", "hierarchical")  # LayoutArrays.ep_hier 0, 1 (see moe.py)


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
    # flash: FlashAttention-2-class fused causal kernel; fused: the GPU generation's native kernel
    # (cuDNN fused attention as Transformer Engine / Megatron-Core use it, FlashAttention-3/4
    # class; = flash on Ampere); flash1: the earlier FlashAttention/Triton generation (25-40 % of
    # A100 peak vs 50-73 %, Dao 2023); unfused: materialised s×s scores.
    attention: str = "fused"
    overlap_grad_reduce: bool = True  # DP gradient sync bucketed under backward
    grad_reduce_bytes: int = 2  # 4 when gradients are reduced in fp32 (FSDP mixed precision DEFAULT)
    param_gather_bytes: int = 2  # ZeRO-3/FSDP weight all-gather dtype (4: fp32 parameters)
    # prefetch: FSDP-style, next layer's gather under this layer's compute (NCCL ring, node rails
    # shared); blocking: DeepSpeed ZeRO-3 of 2021, serial per-parameter gathers (sharded.py).
    zero3_gather: str = "prefetch"
    # -- expert and context parallelism (MoE / long context; see the module docstring) --
    ep: int = 1  # expert parallel: experts split over ep ranks folded into tp·cp·dp
    etp: int | None = None  # expert tensor parallel; None = tp (Megatron-Core default)
    cp: int = 1  # context parallel: each sequence split over cp ranks
    # EP dispatch/combine all-to-all hidden under compute (Megatron-Core v0.14
    # --overlap-moe-expert-parallel-comm, DeepSeek-V3 DualPipe); default off, as Megatron-Core's
    # alltoall dispatcher runs it in line.
    moe_overlap: bool = False
    # alltoall: NCCL all-to-all of every token copy (Megatron-Core alltoall dispatcher); hierarchical:
    # one scale-out copy per token and remote node, forwarded over NVLink there (DeepEP, DeepSeek-V3 §3.2.2)
    ep_dispatch: str = "alltoall"
    # ring: K/V chunks passed around the CP ring under the attention of the previous chunk
    # (Megatron-Core cp_comm_type p2p); all_gather: K and V gathered before attention, exposed
    # (Llama 3, Dubey et al. 2024, §3.3.2).
    cp_comm: str = "ring"
    # TP collectives overlapped with the GEMMs they feed or follow (Megatron-Core/NeMo
    # --tp-comm-overlap, Transformer Engine userbuffers: the all-gather/reduce-scatter is split
    # into chunks exchanged while the GEMM runs on the previous chunk). Off: exposed, in line.
    tp_overlap: bool = False
    # Parameter-efficient fine-tuning: LoRA adapters of this rank on every linear layer of the
    # blocks (Hu et al. 2021); 0 = all weights trained. Frozen base weights get no gradient and
    # no optimizer state; only adapter gradients are reduced across data parallel ranks.
    lora_rank: int = 0

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.cp * self.dp

    @property
    def expert_tp(self) -> int:
        return self.tp if self.etp is None else self.etp

    @property
    def edp(self) -> int:
        """Expert-data-parallel size: replicas of each expert shard (tp·cp·dp / (etp·ep))."""
        return max(self.tp * self.cp * self.dp // max(self.expert_tp * self.ep, 1), 1)

    @property
    def grad_accum(self) -> int:
        """Micro-batches each pipeline runs per optimizer step."""
        return self.global_batch // (self.micro_batch * self.dp)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["grad_accum"] = self.grad_accum
        d["etp"] = self.expert_tp
        return d


def check_layout(lay: Layout, *, gpus: int | None = None, gpus_per_node: int | None = None,
                 heads: int | None = None, kv_heads: int | None = None, layers: int | None = None,
                 transformer: bool = True, experts: int | None = None, seq: int | None = None) -> None:
    """Raise a one-line RaxError naming the field when `lay` cannot run (`experts`: routed
    experts per MoE layer, None for a dense model; `seq`: tokens per sequence)."""
    _check_enums(lay)
    if int(lay.lora_rank) < 0:
        raise RaxError(f"must be ≥ 0 (0: all weights trained), got {lay.lora_rank}", field="lora_rank")
    for name in ("tp", "pp", "dp", "micro_batch", "global_batch", "vpp", "ep", "cp", "expert_tp"):
        if int(getattr(lay, name)) < 1:
            raise RaxError(f"must be ≥ 1, got {getattr(lay, name)}", field="etp" if name == "expert_tp" else name)
    if gpus is not None and lay.gpus != gpus:
        raise RaxError(f"tp×pp×cp×dp = {lay.tp}×{lay.pp}×{lay.cp}×{lay.dp} = {lay.gpus} ≠ {gpus} GPUs", field="gpus")
    if not transformer and (lay.tp > 1 or lay.pp > 1 or lay.cp > 1):
        field = "tp" if lay.tp > 1 else "pp" if lay.pp > 1 else "cp"
        raise RaxError("this model is not a transformer: data parallel, ZeRO and FSDP only (tp = pp = cp = 1)",
                       field=field)
    _check_experts(lay, experts, gpus_per_node)
    _check_context(lay, seq)
    if heads and heads % lay.tp:
        raise RaxError(f"{heads} attention heads are not divisible by tp {lay.tp}", field="tp")
    if kv_heads and lay.tp > kv_heads and lay.tp % kv_heads:
        raise RaxError(f"{kv_heads} KV heads cannot be split or replicated over tp {lay.tp}", field="tp")
    _check_pipeline(lay, layers)
    if lay.global_batch % (lay.micro_batch * lay.dp):
        raise RaxError(f"global batch {lay.global_batch} is not divisible by micro_batch×dp = "
                       f"{lay.micro_batch}×{lay.dp}", field="global_batch")


def _check_experts(lay: Layout, experts: int | None, gpus_per_node: int | None) -> None:
    if not experts:
        if lay.ep > 1 or lay.etp is not None and lay.etp != lay.tp:
            raise RaxError("the model has no experts (not a mixture of experts): ep = 1 and etp = tp only",
                           field="ep" if lay.ep > 1 else "etp")
        return
    if experts % lay.ep:
        raise RaxError(f"{experts} experts are not divisible by ep {lay.ep}", field="ep")
    folded = lay.tp * lay.cp * lay.dp
    if folded % (lay.expert_tp * lay.ep):
        raise RaxError(f"etp×ep = {lay.expert_tp}×{lay.ep} does not divide tp×cp×dp = {folded} (Megatron-Core "
                       "MoE parallel folding)", field="ep")
    if gpus_per_node and lay.expert_tp > gpus_per_node:
        raise RaxError(f"expert tensor parallel {lay.expert_tp} spans more than one node ({gpus_per_node} GPUs)",
                       field="etp")


def _check_context(lay: Layout, seq: int | None) -> None:
    if lay.ep_dispatch not in EP_DISPATCH:
        raise RaxError(f"unknown ep_dispatch {lay.ep_dispatch!r}; allowed: {', '.join(EP_DISPATCH)}", field="ep_dispatch")
    if lay.cp_comm not in CP_COMM:
        raise RaxError(f"unknown cp_comm {lay.cp_comm!r}; allowed: {', '.join(CP_COMM)}", field="cp_comm")
    if seq and lay.cp > 1 and seq % (2 * lay.cp):
        raise RaxError(f"sequence {seq} is not divisible by 2×cp = {2 * lay.cp} (causal load balancing splits "
                       "each sequence into 2·cp chunks)", field="cp")


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
    # Uneven splits are allowed (training.stage_layers places the remainder); each model chunk
    # needs a layer.
    if layers and layers < lay.pp * lay.vpp:
        raise RaxError(f"{layers} layers cannot fill pp×vpp = {lay.pp}×{lay.vpp} model chunks", field="pp")
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
    attn: np.ndarray  # 0 unfused, 1 flash, 2 flash1, 3 fused
    overlap: np.ndarray
    grad_bytes: np.ndarray
    gather_bytes: np.ndarray
    prefetch: np.ndarray = field(default_factory=lambda: np.float64(1.0))  # ZeRO-3: 1 prefetch, 0 blocking
    ep: np.ndarray = field(default_factory=lambda: np.float64(1.0))
    etp: np.ndarray = field(default_factory=lambda: np.float64(0.0))  # 0 = same as tp
    cp: np.ndarray = field(default_factory=lambda: np.float64(1.0))
    moe_overlap: np.ndarray = field(default_factory=lambda: np.float64(0.0))  # 1: EP all-to-all overlapped
    ep_hier: np.ndarray = field(default_factory=lambda: np.float64(0.0))  # 1: hierarchical (DeepEP-style) dispatch
    cp_ag: np.ndarray = field(default_factory=lambda: np.float64(0.0))  # CP: 0 ring, 1 all-gather
    tpo: np.ndarray = field(default_factory=lambda: np.float64(0.0))  # 1: TP comm overlapped with GEMMs
    lora: np.ndarray = field(default_factory=lambda: np.float64(0.0))  # LoRA rank, 0: full training

    def __len__(self) -> int:
        return int(np.size(self.tp))

    @property
    def expert_tp(self):
        return np.where(self.etp > 0, self.etp, self.tp)

    @property
    def edp(self):
        """Expert-data-parallel size tp·cp·dp / (etp·ep)."""
        return np.maximum(self.tp * self.cp * self.dp / (self.expert_tp * self.ep), 1.0)


def as_arrays(lay: Layout) -> LayoutArrays:
    """One layout as 0-d arrays (the scalar path of the shared core)."""
    return LayoutArrays(
        tp=np.float64(lay.tp), pp=np.float64(lay.pp), dp=np.float64(lay.dp), mb=np.float64(lay.micro_batch),
        gb=np.float64(lay.global_batch), vpp=np.float64(lay.vpp), zero=np.float64(lay.zero),
        recompute=np.float64(RECOMPUTE.index(lay.recompute)), sp=np.float64(lay.sequence_parallel),
        attn=np.float64(ATTN_CODE[lay.attention]), overlap=np.float64(lay.overlap_grad_reduce),
        grad_bytes=np.float64(lay.grad_reduce_bytes), gather_bytes=np.float64(lay.param_gather_bytes),
        prefetch=np.float64(lay.zero3_gather == "prefetch"), ep=np.float64(lay.ep), etp=np.float64(lay.expert_tp),
        cp=np.float64(lay.cp), moe_overlap=np.float64(lay.moe_overlap), cp_ag=np.float64(lay.cp_comm == "all_gather"),
        ep_hier=np.float64(lay.ep_dispatch == "hierarchical"),
        tpo=np.float64(lay.tp_overlap), lora=np.float64(lay.lora_rank))


def make_arrays(n: int | None = None, **cols) -> LayoutArrays:
    """Build a batch from columns (scalars broadcast). Defaults as in `Layout`."""
    defaults = dict(tp=1, pp=1, dp=1, mb=1, gb=1, vpp=1, zero=0, recompute=0, sp=0, attn=1, overlap=1, grad_bytes=2,
                    gather_bytes=2, prefetch=1, ep=1, etp=0, cp=1, moe_overlap=0, cp_ag=0, tpo=0, lora=0,
                    ep_hier=0)
    unknown = set(cols) - set(defaults)
    if unknown:
        raise RaxError(f"unknown layout column(s) {', '.join(sorted(unknown))}; known: {', '.join(defaults)}",
                       field="layout")
    merged = {**defaults, **cols}
    size = n or max(np.size(v) for v in merged.values())
    return LayoutArrays(**{k: np.broadcast_to(np.asarray(v, dtype=float), (size,)).copy() for k, v in merged.items()})


# Reason codes of `layout_problems` (0 = possible). Append new codes at the end: stored plans name them.
PROBLEMS = ("ok", "tp x pp x cp x dp != gpus", "tp spans nodes", "heads % tp", "layers < pp*vpp",
            "global_batch % (micro_batch*dp)", "zero-3 with pp", "vpp without pp",
            "interleaving needs micro-batches % pp", "not a transformer: tp = pp = cp = 1",
            "ep or etp without experts", "experts % ep", "(tp*cp*dp) % (etp*ep)", "etp spans nodes",
            "seq % (2*cp)")


def layout_problems(la: LayoutArrays, gpus, gpus_per_node, heads=None, layers=None, transformer=True,
                    experts=None, seq=None):
    """Vectorised `check_layout`: an int array of codes into PROBLEMS (first problem wins). The
    planner also prunes TP across nodes, which `rax predict` projects (slowly) with a warning."""
    m = la.gb / np.maximum(la.mb * la.dp, 1)
    none = np.zeros(len(la), bool)
    etp = la.expert_tp
    checks = [
        la.tp * la.pp * la.cp * la.dp != gpus,
        (la.tp > gpus_per_node) | (np.mod(gpus_per_node, la.tp) != 0),  # a TP group straddling nodes
        (np.mod(heads, la.tp) != 0) if heads else np.zeros(len(la), bool),
        (layers < la.pp * la.vpp) if layers else np.zeros(len(la), bool),
        np.mod(la.gb, la.mb * la.dp) != 0,
        (la.zero == 3) & (la.pp > 1),
        (la.vpp > 1) & (la.pp == 1),
        (la.vpp > 1) & (np.mod(m, la.pp) != 0),
        (not transformer) & ((la.tp > 1) | (la.pp > 1) | (la.cp > 1)),
        ((la.ep > 1) | (etp != la.tp)) if not experts else none,
        (np.mod(experts, la.ep) != 0) if experts else none,
        (np.mod(la.tp * la.cp * la.dp, etp * la.ep) != 0) if experts else none,
        (etp > gpus_per_node) if experts else none,
        ((la.cp > 1) & (np.mod(seq, 2 * la.cp) != 0)) if seq else none,
    ]
    code = np.zeros(len(la), dtype=np.int8)
    for i in range(len(checks), 0, -1):  # reverse so the first failing check wins
        code = np.where(checks[i - 1], i, code)
    return code
