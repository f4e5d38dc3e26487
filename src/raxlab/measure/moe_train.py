"""The rank side of an expert-parallel training step: `ddp_train.Trainer` with the experts sharded.

`EpTrainer` is the DDP trainer of `ddp_train` whose MoE blocks run expert parallel over `ep`
ranks (`moe_ep`): dense parameters under DDP (gradient all-reduce over all ranks, as any DDP
step), expert parameters ignored by DDP and synchronised over the expert-data-parallel group
(`moe_ep.sync_expert_grads`; no communication when DP = EP). The step kinds are the same:

  sync     forward (dispatch/combine all-to-all per MoE block), backward (their reverse), the
           dense all-reduce and the expert EDP all-reduce, optimizer step;
  nosync   the same without any gradient communication (DDP no_sync, no EDP all-reduce): the
           all-to-alls stay, the model cannot run without them;
  single   rank 0 alone trains the unsharded model (all experts local, no all-to-all).

Per round, outside the timed region, every rank shares (step seconds, seconds inside its
all-to-all calls, bytes, calls, each call's entry and exit time) and the token copies it sent
per expert; the round records, per step kind, *for the rank whose step was slowest* (the one
that sets the step time: its step is compute + waits for peers + all-to-all + exposed gradient
sync) the seconds of the exchanges themselves and of its waits inside the calls for the last
peer to arrive (`moe_ep.split_waits`; ranks on one host share a clock; otherwise the whole time
inside the calls counts as exchange and the wait is not recorded), the exchange's mean over ranks,
the bytes over all ranks, and the tokens each expert received in the synced step (summed over
ranks, per block): the load imbalance the router produced, measured.

Before any timed step every rank checks the sharded model against the full one it was cut from:
the logits and loss of its first batch, computed both ways, must agree (`CHECK_RTOL`); a
mismatch ends the run with a one-line error, so a wrong dispatch is never timed.
"""

from __future__ import annotations

import contextlib

import torch
import torch.distributed as dist
from torch import nn

from raxlab.errors import RaxError
from raxlab.measure import moe_ep
from raxlab.measure.ddp_train import Trainer

CHECK_RTOL = 1e-4  # fp32 logits: the sharded path changes only the summation order of the combine


def trainer_class(opts) -> type[Trainer]:
    """The trainer for these options: expert parallel when `ep` > 1."""
    return EpTrainer if (opts.ep or 1) > 1 else Trainer


class EpTrainer(Trainer):
    """A DDP trainer whose MoE experts are sharded over `opts.ep` ranks (module docstring)."""

    def _wrap(self, model: nn.Module):
        from torch.nn.parallel import DistributedDataParallel as DDP

        ctx = self.ctx
        self.mesh = moe_ep.EpMesh.build(ctx.world_size, ctx.rank, self.opts.ep)
        self.meter, self.syncing, self.last = moe_ep.EpMeter(), True, {}
        clocks = [None] * ctx.world_size
        dist.all_gather_object(clocks, moe_ep.same_clock())
        self.one_clock = bool(clocks[0]) and len(set(clocks)) == 1
        batch = self.wl.make_batch(self.opts.batch, device=ctx.device, seed=self.opts.seed + ctx.rank)
        want = self._outputs(model, batch)  # the full model, before its experts are cut
        self.layers = moe_ep.shard_experts(model, self.mesh, self.meter)
        self.check = self._check(want, self._outputs(model, batch))
        DDP._set_params_and_buffers_to_ignore_for_model(model, moe_ep.expert_param_names(model))
        ids = [ctx.local_rank] if self.device.startswith("cuda") else None
        return DDP(model, device_ids=ids, bucket_cap_mb=self.opts.bucket_mb), None

    def _outputs(self, model: nn.Module, batch) -> tuple[torch.Tensor, float]:
        from raxlab.workload import steps

        with torch.no_grad():
            return steps.forward(self.wl, model, batch).float(), float(self.wl.loss(model, batch))

    def _check(self, want, got) -> dict:
        """Max |logit difference| over ranks, relative to max |logit|; RaxError beyond CHECK_RTOL."""
        scale = float(want[0].abs().max()) or 1.0
        err = torch.tensor([float((got[0] - want[0]).abs().max()) / scale, abs(got[1] - want[1])],
                           dtype=torch.float64, device=self.ctx.device)
        dist.all_reduce(err, op=dist.ReduceOp.MAX)
        rel, loss = err.tolist()
        if not rel <= CHECK_RTOL:
            raise RaxError(f"expert-parallel forward differs from the unsharded model: max relative logit error "
                           f"{rel:.3g} > {CHECK_RTOL:g} (EP {self.mesh.ep}); not timing a wrong step", field="--ep")
        return {"max_rel_logit_error": rel, "max_loss_error": loss, "rtol": CHECK_RTOL, "ok": True,
                "basis": "each rank's first batch through the full model and the sharded one, before timing"}

    # -- the step ------------------------------------------------------------------------
    def _after_backward(self, model) -> None:
        if model is self.model:
            moe_ep.sync_expert_grads(self.layers, self.mesh, communicate=self.syncing)

    @contextlib.contextmanager
    def _no_sync(self):
        self.syncing = False
        try:
            with super()._no_sync():
                yield
        finally:
            self.syncing = True

    def timed(self, kind: str) -> float:
        self.meter.reset()
        t = super().timed(kind)
        if kind != "single":
            m = self.meter
            self.last[kind] = ([t, m.seconds, m.bytes_sent, m.bytes_off_rank, m.calls],
                               torch.stack([m.tokens[i] for i in sorted(m.tokens)]),
                               torch.tensor(m.events, dtype=torch.float64).reshape(-1, 2))
        return t

    def round(self, *, single: bool, split: bool) -> dict:
        out = super().round(single=single, split=split)
        self.ctx.progress.enter()
        for kind in ("sync", "nosync") if split else ("sync",):
            out.update(self._gather(kind))
        tokens = self.last["sync"][1].to(torch.int64)
        dist.all_reduce(tokens)  # token copies per expert, all ranks' routers together
        self.ctx.progress.done()
        out["tokens_per_expert"] = tokens.tolist()
        return out

    def _gather(self, kind: str) -> dict:
        """The round's all-to-all figures of step kind `kind` over all ranks (module docstring)."""
        t = _all_gather(torch.tensor(self.last[kind][0], dtype=torch.float64, device=self.ctx.device))
        slow = int(torch.argmax(t[:, 0]))
        exchange, wait = t[:, 1], None
        if self.one_clock:  # split each call into the wait for the last peer and the exchange
            events = _all_gather(self.last[kind][2].to(self.ctx.device))
            exchange, wait = torch.zeros_like(exchange), torch.zeros_like(exchange)
            for g in range(self.mesh.edp):
                group = list(range(g * self.mesh.ep, (g + 1) * self.mesh.ep))
                exchange[group], wait[group] = moe_ep.split_waits(events, group)
        return {f"a2a_{kind}_s": float(exchange[slow]), f"a2a_{kind}_mean_s": float(exchange.mean()),
                f"a2a_{kind}_in_calls_s": float(t[slow, 1]),
                f"a2a_{kind}_wait_s": float(wait[slow]) if wait is not None else None,
                f"a2a_{kind}_bytes": int(t[:, 2].sum()), f"a2a_{kind}_bytes_off_rank": int(t[:, 3].sum()),
                f"a2a_{kind}_calls": int(t[slow, 4])}

    def describe(self) -> dict:
        info = super().describe()
        expert = moe_ep.expert_params(self.layers)
        n_expert = sum(p.numel() for p in expert)
        dense = [p for n, p in self.model.module.named_parameters()
                 if n not in set(moe_ep.expert_param_names(self.model.module)) and p.requires_grad]
        synced = info_bytes = sum(p.numel() * p.element_size() for p in dense)
        if self.mesh.edp > 1:
            synced += sum(p.numel() * p.element_size() for p in expert)
        info["grad_bytes"] = synced  # the gradient bytes a synced step communicates (experts: over EDP only)
        info.update(ep={
            "degree": self.mesh.ep, "edp": self.mesh.edp, "moe_blocks": len(self.layers),
            "experts": self.layers[0].n_total, "experts_per_rank": self.layers[0].n_local,
            "expert_params_per_rank": n_expert, "dense_params": sum(p.numel() for p in dense),
            "dense_grad_bytes": info_bytes,
            "expert_grad_bytes_per_rank": sum(p.numel() * p.element_size() for p in expert),
            "expert_grad_sync": "all-reduce over the EDP group" if self.mesh.edp > 1 else "none (DP = EP)",
            "check": self.check,
            "dispatch": "token copies sorted by expert; counts exchanged by all_to_all_single, then dispatch and "
                        "combine by all_to_all_single with the router's uneven splits; backward: the reverse "
                        "all-to-alls (autograd Function)"})
        return info


def _all_gather(x: torch.Tensor) -> torch.Tensor:
    """Every rank's `x` stacked in rank order (same shape on every rank)."""
    rows = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(rows, x.contiguous())
    return torch.stack(rows)
