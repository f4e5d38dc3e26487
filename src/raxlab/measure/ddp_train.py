"""The rank side of the distributed training step: the user's model under DDP or FSDP.

One *round* times, on every rank, each step started from a barrier so no rank's time holds
a peer's earlier lateness (as the comm benchmark does, measurement.md §1.2); sync and
nosync swap places every other round, so neither always runs second:

  single   the 1-rank step: rank 0 alone trains an unwrapped copy of the model on the
           same per-rank batch while the other ranks wait (weak-scaling baseline);
  sync     a full training step of the wrapped model (forward, backward with the
           gradient all-reduce or reduce-scatter, optimizer step);
  nosync   the same step under `no_sync()` (FSDP: `set_requires_gradient_sync(False)`),
           so no gradient is communicated; FSDP still all-gathers parameters there.

A round's times are the slowest rank's (one all-reduce MAX after the round, outside the
timed region; nccl-tests -I: "each iteration's time is the max over the GPUs"), and the
exposed communication is median(sync) - median(nosync): the part of the gradient
exchange that backward does not hide. Timing: `timing.make_timer` (perf_counter on
CPU, CUDA events then synchronise on GPUs). no_sync steps leave the replicas' weights
slightly apart (unsynchronised updates); that changes no timing and the run is a benchmark.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.distributed as dist
from torch import nn

from raxlab.measure.comm.rank import RankContext
from raxlab.measure.ddp_options import DdpOptions
from raxlab.measure.timing import make_timer

N_BATCHES = 2  # distinct batches per rank, cycled, drawn before timing starts


def barrier(ctx: RankContext) -> None:
    ctx.progress.enter()
    if ctx.backend == "nccl":
        dist.barrier(device_ids=[ctx.local_rank])
    else:
        dist.barrier()
    ctx.progress.done()


def _autocast(precision: str, device: str):
    from raxlab.measure.compute import _autocast as autocast  # the compute benchmark's rules

    return autocast(precision, device)


def _optimizer(name: str, params):
    if name == "sgd":
        return torch.optim.SGD(params, lr=1e-4, momentum=0.9)
    return torch.optim.AdamW(params, lr=1e-4)


def _fsdp_units(model: nn.Module) -> list[nn.Module]:
    """Layers to shard one by one: the items of ModuleLists (transformer blocks), else the
    direct children that hold parameters; the root is sharded last (FSDP2 usage pattern)."""
    lists = [m for m in model.modules() if isinstance(m, nn.ModuleList)]
    units = [child for ml in lists for child in ml] if lists else list(model.children())
    return [u for u in units if any(True for _ in u.parameters())]


class Trainer:
    """Model, wrapper, optimizer and batches of one rank; `round()` times one round."""

    def __init__(self, ctx: RankContext, opts: DdpOptions, wl):
        self.ctx, self.opts, self.wl = ctx, opts, wl
        self.device = str(ctx.device)
        self.timer = make_timer(self.device)
        torch.manual_seed(opts.seed)  # same init everywhere; DDP also broadcasts rank 0's
        model = wl.build_model(device=ctx.device)
        self.single = self._single_state(model) if opts.baseline and ctx.is_root else None
        self.n_params = sum(p.numel() for p in model.parameters())
        self.grad_bytes = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
        self.model, self.units = self._wrap(model)
        self.opt = _optimizer(opts.optimizer, self.model.parameters())
        self.scaler = torch.amp.GradScaler(self.device.split(":")[0],
                                           enabled=opts.precision == "fp16" and self.device != "cpu")
        self.batches = [wl.make_batch(opts.batch, device=ctx.device, seed=opts.seed + 1000 * k + ctx.rank)
                        for k in range(N_BATCHES)]
        self.i, self.rounds, self.losses = 0, 0, []

    def _single_state(self, model: nn.Module) -> dict:
        twin = copy.deepcopy(model)
        dev = str(self.ctx.device)
        scaler = torch.amp.GradScaler(dev.split(":")[0], enabled=self.opts.precision == "fp16" and dev != "cpu")
        return {"model": twin, "opt": _optimizer(self.opts.optimizer, twin.parameters()), "scaler": scaler}

    def _wrap(self, model: nn.Module):
        if self.opts.fsdp:
            from torch.distributed.fsdp import fully_shard

            units = _fsdp_units(model)
            for unit in units:
                fully_shard(unit)
            return fully_shard(model), len(units) + 1
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.ctx.local_rank] if self.device.startswith("cuda") else None
        return DDP(model, device_ids=ids, bucket_cap_mb=self.opts.bucket_mb), None

    # -- steps -------------------------------------------------------------------
    def _step(self, model, opt, scaler, batch) -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        with _autocast(self.opts.precision, self.device):
            loss = self.wl.loss(model, batch)
        scaler.scale(loss).backward()
        self._after_backward(model)
        scaler.step(opt)
        scaler.update()
        return loss.detach()

    def _after_backward(self, model) -> None:
        """Between backward and the optimizer step (expert-parallel gradient sync: moe_train)."""

    def _no_sync(self):
        if not self.opts.fsdp:
            return self.model.no_sync()
        return _FsdpNoSync(self.model)

    def timed(self, kind: str) -> float:
        """Seconds of one step of `kind` on this rank (sync, nosync or single)."""
        batch = self.batches[self.i % N_BATCHES]
        self.i += 1
        if kind == "single":
            s = self.single
            return self.timer(lambda: self._step(s["model"], s["opt"], s["scaler"], batch))
        out = {}

        def body():
            if kind == "nosync":
                with self._no_sync():
                    out["loss"] = self._step(self.model, self.opt, self.scaler, batch)
            else:
                out["loss"] = self._step(self.model, self.opt, self.scaler, batch)

        self.ctx.progress.enter()
        t = self.timer(body)
        self.ctx.progress.done()
        self.losses.append(float(out["loss"]))
        return t

    def round(self, *, single: bool, split: bool) -> dict:
        """One round; every rank returns the slowest rank's seconds per step kind (None: not run)."""
        ran = {"single": single, "sync": True, "nosync": split}
        got = dict.fromkeys(ran, 0.0)
        if single and self.ctx.is_root:
            got["single"] = self.timed("single")
        if single:
            barrier(self.ctx)  # the others wait here while rank 0 runs alone
        kinds = ("sync", "nosync") if split else ("sync",)
        self.rounds += 1
        for kind in kinds if self.rounds % 2 else kinds[::-1]:  # alternate the order: no position bias
            barrier(self.ctx)
            got[kind] = self.timed(kind)
        vals = torch.tensor(list(got.values()), dtype=torch.float64, device=self.ctx.device)
        self.ctx.progress.enter()
        dist.all_reduce(vals, op=dist.ReduceOp.MAX)
        self.ctx.progress.done()
        return {f"{k}_s": v if ran[k] else None for k, v in zip(ran, vals.tolist())}

    # -- what the run should record ------------------------------------------------
    def describe(self) -> dict:
        info = {"params": self.n_params, "grad_bytes": self.grad_bytes, "batch_per_rank": self.opts.batch,
                "world_size": self.ctx.world_size, "device": self.device, "threads": torch.get_num_threads(),
                "torch": torch.__version__, "wrapper": "fsdp2 fully_shard" if self.opts.fsdp else "DDP",
                "bucket_cap_mb": None if self.opts.fsdp else self.opts.bucket_mb, "fsdp_units": self.units,
                "optimizer": self.opts.optimizer, "precision": self.opts.precision,
                "tokens_per_sample": self.wl.tokens_per_sample}
        if not self.opts.fsdp:
            info.update(_bucket_info(self.model))
        return info

    def loss_record(self) -> dict:
        finite = all(math.isfinite(x) for x in self.losses)
        return {"loss_first": self.losses[0] if self.losses else None,
                "loss_last": self.losses[-1] if self.losses else None, "loss_finite": finite}


class _FsdpNoSync:
    """FSDP2's counterpart of DDP.no_sync(): skip the gradient reduce-scatter for one step."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.model.set_requires_gradient_sync(False)

    def __exit__(self, *exc):
        self.model.set_requires_gradient_sync(True)
        return False


def _bucket_info(ddp) -> dict:
    """Bucket layout DDP actually used (after its first-iteration rebuild), from its logging data."""
    try:
        data = ddp._get_ddp_logging_data()
    except Exception:  # a private API: record nothing rather than fail the run
        return {}
    sizes = [int(s) for s in str(data.get("rebuilt_bucket_sizes") or data.get("bucket_sizes") or "").split(",")
             if s.strip()]
    return {"bucket_sizes_bytes": sizes, "n_buckets": len(sizes) or None,
            "gradient_as_bucket_view": bool(data.get("gradient_as_bucket_view"))}
