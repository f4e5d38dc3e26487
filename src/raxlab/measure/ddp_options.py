"""What a distributed-training measurement runs: workload, batch, precision, wrapping, steps.

Shared by the parent (`rax bench ddp`, `rax abtest`) and the ranks (`ddp_worker`), which
receive it as arguments, so one description means the same under every launcher.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass

from raxlab.argtypes import deprecated_alias
from raxlab.errors import RaxError

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")  # fp8 needs Transformer Engine layers: see compute.py
OPTIMIZERS = ("adamw", "sgd")
DEFAULT_BUCKET_MB = 25.0  # torch DistributedDataParallel's bucket_cap_mb default


@dataclass
class DdpOptions:
    workload: str
    trust_code: bool = False
    batch: int = 0  # per rank; 0: the workload's micro_batch (resolved by the parent)
    precision: str = "fp32"
    bucket_mb: float = DEFAULT_BUCKET_MB
    fsdp: bool = False
    optimizer: str = "adamw"  # the compute benchmark's optimizer, so both time the same step
    warmup: int = 3  # untimed rounds (DDP rebuilds its buckets after the first iteration)
    steps: int = 10  # measured rounds at most
    max_seconds: float = 60.0  # cap on the measured rounds
    baseline: bool = True  # time the 1-rank step (rank 0 alone, the others idle) in each round
    split: bool = True  # time a no_sync step beside each synced one
    timeout_s: float = 120.0  # no finished call on any rank for this long: the run ends
    seed: int = 0
    ep: int | None = None  # expert-parallel degree (MoE); None: the parent picks (resolve_ep), 1: plain DDP

    def validate(self) -> "DdpOptions":
        if self.precision not in PRECISIONS:
            raise RaxError(f"unknown precision {self.precision!r}; allowed: {', '.join(PRECISIONS)} (fp8 "
                           "needs Transformer Engine layers; see `rax bench compute`)", field="--precision")
        if self.optimizer not in OPTIMIZERS:
            raise RaxError(f"unknown optimizer {self.optimizer!r}; allowed: {', '.join(OPTIMIZERS)}",
                           field="--optimizer")
        if self.batch < 0:
            raise RaxError(f"must be >= 1, got {self.batch}", field="--micro-batch")
        if not 0 < self.bucket_mb <= 4096:
            raise RaxError(f"must be in (0, 4096] MB, got {self.bucket_mb}", field="--bucket-mb")
        if self.warmup < 1 or self.steps < 1:
            raise RaxError(f"need --warmup >= 1 and --steps >= 1, got {self.warmup} and {self.steps}",
                           field="--steps")
        if self.ep is not None and self.ep < 1:
            raise RaxError(f"must be >= 1, got {self.ep}", field="--ep")
        if self.fsdp and (self.ep or 1) > 1:
            raise RaxError("expert parallel runs under DDP here; drop --fsdp or use --ep 1", field="--ep")
        if self.max_seconds <= 0 or self.timeout_s <= 0:
            raise RaxError("--max-seconds and --timeout must be positive", field="--timeout")
        return self

    def to_args(self) -> list[str]:
        args = ["--workload", self.workload, "--micro-batch", str(self.batch), "--precision", self.precision,
                "--bucket-mb", f"{self.bucket_mb:g}", "--optimizer", self.optimizer, "--warmup", str(self.warmup),
                "--steps", str(self.steps), "--max-seconds", f"{self.max_seconds:g}",
                "--timeout", f"{self.timeout_s:g}", "--seed", str(self.seed)]
        args += ["--ep", str(self.ep)] if self.ep is not None else []
        flags = {"--trust-code": self.trust_code, "--fsdp": self.fsdp, "--no-baseline": not self.baseline,
                 "--no-split": not self.split}
        return args + [f for f, on in flags.items() if on]

    def resolve_ep(self, layer_shape: dict | None, ranks: int) -> None:
        """Fix `ep` for this workload and rank count: a MoE model defaults to the largest degree
        dividing both its experts and the ranks, a dense one to 1."""
        import math

        experts = int(((layer_shape or {}).get("moe") or {}).get("experts") or 0)
        if self.ep is None:
            self.ep = math.gcd(experts, ranks) if experts else 1
            return
        if self.ep > 1 and not experts:
            raise RaxError(f"--ep {self.ep} needs a mixture-of-experts model; this one is dense", field="--ep")
        if self.ep > 1 and (ranks % self.ep or experts % self.ep):
            raise RaxError(f"expert-parallel degree {self.ep} must divide the {ranks} ranks and the {experts} "
                           "experts", field="--ep")

    def to_dict(self) -> dict:
        return asdict(self)


def add_ddp_arguments(p: argparse.ArgumentParser, *, workload: bool = False) -> None:
    """The step flags shared by `rax bench ddp`, `rax abtest` and the worker entry point."""
    d = DdpOptions("")
    if workload:
        p.add_argument("--workload", required=True)
        p.add_argument("--trust-code", action="store_true")
    p.add_argument("--micro-batch", dest="batch", type=int, default=0,
                   help="samples per rank per step (default: the spec's micro_batch)")
    deprecated_alias(p, "--batch", "--micro-batch", dest="batch", type=int)
    p.add_argument("--precision", default=d.precision, help="fp32 | tf32 | bf16 | fp16 (default fp32)")
    p.add_argument("--bucket-mb", type=float, default=d.bucket_mb,
                   help="DDP gradient bucket size, bucket_cap_mb (default 25, torch's)")
    p.add_argument("--fsdp", action="store_true", help="FSDP (fully_shard per layer) instead of DDP")
    p.add_argument("--optimizer", default=d.optimizer, help="adamw (default, as rax bench compute) | sgd")
    p.add_argument("--warmup", type=int, default=d.warmup, help="untimed rounds first (default 3)")
    p.add_argument("--timeout", type=float, default=d.timeout_s,
                   help="seconds without progress on any rank before the run is ended (default 120)")
    p.add_argument("--seed", type=int, default=0, help="model init seed; rank r draws its batches from seed+r")
    p.add_argument("--ep", type=int, default=None,
                   help="expert-parallel degree over the ranks for a MoE model (default: as many ranks as divide "
                        "the experts; 1: plain DDP, every expert on every rank)")


def options_from_args(args, **overrides) -> DdpOptions:
    return DdpOptions(
        workload=args.workload, trust_code=args.trust_code, batch=args.batch, precision=args.precision,
        bucket_mb=args.bucket_mb, fsdp=args.fsdp, optimizer=args.optimizer, warmup=args.warmup,
        timeout_s=args.timeout, seed=args.seed, ep=getattr(args, "ep", None), **overrides,
    ).validate()
