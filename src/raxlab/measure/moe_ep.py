"""Expert parallelism over torch.distributed all-to-all: the experts of a MoE model split across ranks.

    mesh = EpMesh.build(world=4, rank=r, ep=2)            # EP groups {0,1},{2,3}; EDP groups {0,2},{1,3}
    layers = shard_experts(model, mesh)                    # each MoE block keeps only its rank's experts
    ... loss.backward(); sync_expert_grads(layers, mesh)   # expert gradients over the EDP group

Any Hugging Face MoE block whose routed experts follow transformers' experts interface
(`@use_experts_implementation`: `experts(hidden (T,h), top_k_index (T,k), top_k_weights (T,k))`,
weights stacked along a first dimension of size num_experts: mixtral, qwen2_moe/qwen3_moe routed
experts, olmoe, deepseek_v3, ...) has its `experts` module replaced by `EpExperts`, which

1. sorts the T·k token copies by expert (experts are laid out in contiguous blocks per EP rank,
   so sorted copies are grouped by destination rank) and counts them per expert;
2. exchanges the counts (one all-to-all of EP x experts-per-rank integers), so every rank knows
   how many rows it receives from each peer for each of its experts: the splits are uneven,
   as the router makes them;
3. dispatches the copies (`all_to_all_single` with those splits), runs its local experts on the
   rows it received with transformers' own experts code (each row once, weight 1), and
4. combines: the reverse all-to-all returns each output to the rank that owns the token, which
   applies the routing weights and sums over k (so the router's gradient stays local).

The dispatch and combine are one autograd Function (`_AllToAll`) whose backward is the reverse
all-to-all, so the backward pass moves the gradients of both the same way (GShard, Lepikhin et
al. 2020, §2.2; Megatron-Core `moe/token_dispatcher.py` all-to-all dispatcher). Every call is
blocking and timed (`EpMeter`): on CPU ranks over gloo nothing overlaps it, so time inside the
calls is time on the step's critical path. A blocking exchange also waits for the slowest peer
(the rank whose experts got more tokens, or whose core was taken by other work). So that this
wait is not read as network time, every call's entry and exit times are kept (`EpMeter.events`,
CLOCK_MONOTONIC): with all ranks on one host (`same_clock`) the exchange of one call on rank r is
exit_r − the last entry of its EP group and the wait is that last entry − entry_r (`split_waits`),
without a barrier that would add a synchronisation the model does not have.

Gradients: expert parameters are not all-reduced by DDP (they differ per EP rank; the caller
tells DDP to ignore `expert_param_names`); `sync_expert_grads` sums them over the expert-data-
parallel group (ranks holding the same experts, DP/EP of them) and divides by the world size, so
every parameter gets the gradient of the mean loss over all ranks, as DDP's average gives the dense
ones (the backward all-to-all already summed the contributions of the EP group's tokens).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn

from raxlab.errors import RaxError


@dataclass
class EpMesh:
    """This rank's expert-parallel group (ranks sharing one copy of all experts) and its
    expert-data-parallel group (ranks holding the same experts)."""

    world: int
    rank: int
    ep: int
    ep_group: object = None
    edp_group: object = None

    @property
    def ep_rank(self) -> int:
        return self.rank % self.ep

    @property
    def edp(self) -> int:
        return self.world // self.ep

    @classmethod
    def build(cls, world: int, rank: int, ep: int) -> "EpMesh":
        """New process groups (every rank must call this, in the same order): EP groups of
        consecutive ranks, EDP groups of ranks ep apart."""
        check_degree(ep, world)
        mesh = cls(world, rank, ep)
        for g in range(world // ep):  # new_group is collective: create all, keep ours
            grp = dist.new_group(list(range(g * ep, (g + 1) * ep)))
            mesh.ep_group = grp if rank // ep == g else mesh.ep_group
        for i in range(ep):
            grp = dist.new_group(list(range(i, world, ep))) if world > ep else None
            mesh.edp_group = grp if rank % ep == i else mesh.edp_group
        return mesh


def check_degree(ep: int, world: int, experts: int | None = None) -> None:
    """One-line errors for an EP degree that cannot split these ranks (or experts)."""
    if ep < 1 or world % ep:
        raise RaxError(f"expert-parallel degree {ep} must divide the {world} ranks", field="--ep")
    if experts is not None and experts % ep:
        raise RaxError(f"expert-parallel degree {ep} must divide the model's {experts} experts", field="--ep")


@dataclass
class EpMeter:
    """What the all-to-alls of one rank did since `reset()`: seconds inside the calls, bytes
    sent (all, and to other ranks), calls, and token copies received per local expert per layer."""

    seconds: float = 0.0  # inside the all-to-all calls (exchange and wait for the last peer)
    bytes_sent: int = 0  # token rows (dispatch, combine and their gradients), this rank's own chunk included
    bytes_off_rank: int = 0  # the part of bytes_sent bound for other ranks
    calls: int = 0  # all-to-all calls, the count exchanges included
    tokens: dict = field(default_factory=dict)  # layer index -> token copies sent per global expert (E,)
    events: list = field(default_factory=list)  # (entry, exit) perf_counter seconds of every call, in order

    def reset(self) -> None:
        self.seconds, self.bytes_sent, self.bytes_off_rank, self.calls = 0.0, 0, 0, 0
        self.tokens, self.events = {}, []

    def exchange(self, x: torch.Tensor, out_splits: list[int], in_splits: list[int], group, me: int,
                 rows: bool = True) -> torch.Tensor:
        """Blocking all_to_all_single of the rows of `x` (in_splits rows to each peer; out_splits
        rows from each), timed; `me` is this rank's index in the group (its chunk stays local);
        `rows=False` for the count exchange (timed, its bytes not counted as token traffic)."""
        x = x.contiguous()
        out = x.new_empty((sum(out_splits), *x.shape[1:]))
        row = math.prod(x.shape[1:]) * x.element_size()
        t0 = time.perf_counter()
        dist.all_to_all_single(out, x, output_split_sizes=out_splits, input_split_sizes=in_splits, group=group)
        t1 = time.perf_counter()
        self.seconds += t1 - t0
        self.events.append((t0, t1))
        self.calls += 1
        if not rows:
            return out
        self.bytes_sent += sum(in_splits) * row
        self.bytes_off_rank += (sum(in_splits) - in_splits[me]) * row
        return out


class _AllToAll(torch.autograd.Function):
    """Rows of x to the ranks of `group` (in_splits sent, out_splits received); backward sends the
    gradient rows back the reverse way."""

    @staticmethod
    def forward(ctx, x, out_splits, in_splits, group, me, meter):
        ctx.args = (out_splits, in_splits, group, me, meter)
        return meter.exchange(x, out_splits, in_splits, group, me)

    @staticmethod
    def backward(ctx, grad):
        out_splits, in_splits, group, me, meter = ctx.args
        return meter.exchange(grad, in_splits, out_splits, group, me), None, None, None, None, None


class EpExperts(nn.Module):
    """The experts of one MoE block on one EP rank: the original experts module (transformers'
    code, its weights cut to this rank's block of experts) behind a dispatch and a combine."""

    def __init__(self, experts: nn.Module, mesh: EpMesh, meter: EpMeter, layer: int):
        super().__init__()
        total = int(experts.num_experts)
        check_degree(mesh.ep, mesh.world, total)
        self.n_total, self.n_local = total, total // mesh.ep
        self.lo = mesh.ep_rank * self.n_local
        self.mesh, self.meter, self.layer = mesh, meter, layer
        _keep_block(experts, total, self.lo, self.lo + self.n_local)
        self.local = experts

    def forward(self, hidden: torch.Tensor, top_k_index: torch.Tensor, top_k_weights: torch.Tensor) -> torch.Tensor:
        tokens, k = top_k_index.shape
        flat = top_k_index.reshape(-1)
        order = torch.argsort(flat, stable=True)  # copies grouped by expert, so by destination rank
        counts = torch.bincount(flat, minlength=self.n_total)
        self.meter.tokens[self.layer] = counts.detach().clone()
        recv_counts = self._exchange_counts(counts)
        in_splits = counts.view(self.mesh.ep, self.n_local).sum(1).tolist()
        out_splits = recv_counts.sum(1).tolist()
        me, grp, meter = self.mesh.ep_rank, self.mesh.ep_group, self.meter
        rows = _AllToAll.apply(hidden[order // k], out_splits, in_splits, grp, me, meter)
        done = _AllToAll.apply(self._run_local(rows, recv_counts), in_splits, out_splits, grp, me, meter)
        copies = torch.empty_like(done).index_copy(0, order, done)  # back to (token, slot) order
        out = copies.view(tokens, k, -1) * top_k_weights.unsqueeze(-1).to(copies.dtype)
        return out.sum(dim=1).to(hidden.dtype)

    def _exchange_counts(self, counts: torch.Tensor) -> torch.Tensor:
        """(EP, local experts): rows each peer will send for each local expert."""
        send = counts.view(self.mesh.ep, self.n_local)
        got = self.meter.exchange(send, [1] * self.mesh.ep, [1] * self.mesh.ep, self.mesh.ep_group,
                                  self.mesh.ep_rank, rows=False)
        return got.view(self.mesh.ep, self.n_local)

    def _run_local(self, rows: torch.Tensor, recv_counts: torch.Tensor) -> torch.Tensor:
        """Each received row through its local expert with transformers' experts forward (weight 1)."""
        if rows.shape[0] == 0:
            return rows * 0  # still in the graph: the backward all-to-all must run on every rank
        ids = torch.arange(self.n_local, device=rows.device).repeat(self.mesh.ep)
        ids = torch.repeat_interleave(ids, recv_counts.reshape(-1)).unsqueeze(1)
        ones = torch.ones(ids.shape, dtype=rows.dtype, device=rows.device)
        return self.local(rows, ids, ones)


def same_clock() -> str:
    """This kernel's boot id: ranks that share it read one CLOCK_MONOTONIC (perf_counter on Linux),
    network namespaces included, so their call times can be compared."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def split_waits(events: torch.Tensor, group: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(exchange, wait) seconds per rank of `group` from every rank's call times `events` (world,
    calls, 2: entry, exit; one clock): a call's exchange on rank r starts when the last rank of
    the group enters it (no rank can receive from a peer that has not sent)."""
    ev = events[group]
    last_in = ev[:, :, 0].max(dim=0).values
    exchange = (ev[:, :, 1] - last_in).clamp(min=0).sum(dim=1)
    wait = (last_in - ev[:, :, 0]).sum(dim=1)
    return exchange, wait


def _keep_block(experts: nn.Module, total: int, lo: int, hi: int) -> None:
    """Cut every per-expert parameter (first dimension = total experts) to experts lo..hi-1."""
    for name, p in list(experts.named_parameters(recurse=False)):
        if p.dim() >= 1 and p.shape[0] == total:
            setattr(experts, name, nn.Parameter(p.detach()[lo:hi].clone(), requires_grad=p.requires_grad))
    experts.num_experts = hi - lo


def moe_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, experts module) of every routed-experts module following transformers' experts
    interface: `has_gate` set by `use_experts_implementation`, and a `num_experts`."""
    return [(n, m) for n, m in model.named_modules()
            if hasattr(m, "has_gate") and hasattr(m, "num_experts") and int(getattr(m, "num_experts")) > 1]


def shard_experts(model: nn.Module, mesh: EpMesh, meter: EpMeter) -> list[EpExperts]:
    """Replace each MoE block's experts with this rank's `EpExperts`; a one-line error for a model
    without such blocks (a dense model or experts transformers' interface does not cover)."""
    found = moe_blocks(model)
    if not found:
        raise RaxError("--ep needs a mixture-of-experts model whose experts follow transformers' experts "
                       "interface (e.g. model_type mixtral, qwen3_moe; preset tiny-moe)", field="--ep")
    out = []
    for layer, (name, experts) in enumerate(found):
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        ep = EpExperts(experts, mesh, meter, layer)
        setattr(parent, attr, ep)
        out.append(ep)
    return out


def expert_param_names(model: nn.Module) -> list[str]:
    """Fully qualified names of the expert-sharded parameters (for DDP to ignore)."""
    return [f"{n}.{p}" for n, m in model.named_modules() if isinstance(m, EpExperts)
            for p, _ in m.named_parameters()]


def expert_params(layers: list[EpExperts]) -> list[nn.Parameter]:
    return [p for ep in layers for p in ep.parameters()]


def sync_expert_grads(layers: list[EpExperts], mesh: EpMesh, *, communicate: bool = True) -> None:
    """Expert gradients -> gradient of the mean loss over all ranks: sum over the EDP group (when
    `communicate` and DP > EP) and divide by the world size (module docstring)."""
    grads = []
    for p in expert_params(layers):
        if p.grad is None:  # no token reached this rank's experts: a zero gradient, still synced
            p.grad = torch.zeros_like(p)
        grads.append(p.grad)
    if communicate and mesh.edp_group is not None and grads:
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, group=mesh.edp_group)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()
    for g in grads:
        g.div_(mesh.world)
