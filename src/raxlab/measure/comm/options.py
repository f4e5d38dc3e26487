"""What a comm sweep measures: collectives, dtypes, sizes (nccl-tests -b/-e/-f), iterations.

Shared by the CLI (parent) and the worker (ranks), which receive it as arguments, so
a sweep is described once and means the same under `rax`, torchrun or srun.
Sizes take nccl-tests' binary suffixes (K/M/G = 2^10/2^20/2^30, also KiB/MiB/GiB).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from raxlab.errors import RaxError, unknown_name

COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all", "send_recv")
DTYPE_NAMES = ("fp32", "bf16", "fp16")
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_MULT = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str | int, field: str) -> int:
    if isinstance(text, int):
        return text
    m = _SIZE_RE.match(str(text))
    if not m:
        raise RaxError(f"bad size {text!r}; use bytes with an optional K, M or G suffix (binary, as "
                       "nccl-tests), e.g. 8, 64K, 128M", field=field)
    return int(m.group(1)) * _MULT[m.group(2).lower()]


def format_size(n: int) -> str:
    """16777216 -> '16 MiB'; sizes that are not whole binary units stay in bytes."""
    for unit, mult in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= mult and n % mult == 0:
            return f"{n // mult} {unit}"
    return f"{n} B"


def parse_names(text: str | list[str], known: tuple[str, ...], kind: str, field: str) -> list[str]:
    names = text if isinstance(text, list) else [t.strip() for t in str(text).split(",") if t.strip()]
    if names == ["all"]:
        return list(known)
    for name in names:
        if name not in known:
            raise unknown_name(kind, name, list(known), field=field)
    if not names:
        raise RaxError(f"give at least one {kind}", field=field)
    return list(dict.fromkeys(names))


@dataclass
class SweepOptions:
    collectives: list[str] = field(default_factory=lambda: list(COLLECTIVES))
    dtypes: list[str] = field(default_factory=lambda: ["fp32"])
    min_bytes: int = 8
    max_bytes: int = 32 * 2**20
    step_factor: int = 2
    iters: int = 20
    warmup: int = 5
    transport: str = "gloo"
    timeout_s: float = 60.0
    check: bool = True

    def validate(self) -> "SweepOptions":
        self.collectives = parse_names(self.collectives, COLLECTIVES, "collective", "--collectives")
        self.dtypes = parse_names(self.dtypes, DTYPE_NAMES, "dtype", "--dtypes")
        if not 1 <= self.min_bytes <= self.max_bytes:
            raise RaxError(f"need 1 <= min bytes ({self.min_bytes}) <= max bytes ({self.max_bytes})",
                           field="-b/--min-bytes")
        if self.step_factor < 2:
            raise RaxError(f"the step factor must be an integer >= 2, got {self.step_factor}",
                           field="-f/--step-factor")
        if self.iters < 1 or self.warmup < 0:
            raise RaxError(f"need --iters >= 1 and --warmup >= 0, got {self.iters} and {self.warmup}",
                           field="--iters")
        if self.timeout_s <= 0:
            raise RaxError(f"must be a positive number of seconds, got {self.timeout_s}", field="--timeout")
        return self

    def sizes(self) -> list[int]:
        """Requested sizes: min, min*f, min*f^2, ... <= max (nccl-tests -b/-e/-f)."""
        out, size = [], self.min_bytes
        while size <= self.max_bytes:
            out.append(size)
            size *= self.step_factor
        return out

    def to_args(self) -> list[str]:
        """The worker's command line for this sweep."""
        args = ["--collectives", ",".join(self.collectives), "--dtypes", ",".join(self.dtypes),
                "-b", str(self.min_bytes), "-e", str(self.max_bytes), "-f", str(self.step_factor),
                "--iters", str(self.iters), "--warmup", str(self.warmup), "--transport", self.transport,
                "--timeout", f"{self.timeout_s:g}"]
        return args + ([] if self.check else ["--no-check"])

    def to_dict(self) -> dict:
        return asdict(self)


def add_sweep_arguments(parser) -> None:
    """The sweep flags, shared by `rax bench comm` and the worker entry point."""
    d = SweepOptions()
    parser.add_argument("--collectives", default="all",
                        help=f"comma list or 'all' ({', '.join(COLLECTIVES)}); default all")
    parser.add_argument("--dtypes", default="fp32", help="comma list of fp32, bf16, fp16; default fp32")
    parser.add_argument("-b", "--min-bytes", default=str(d.min_bytes), help="smallest size (default 8)")
    parser.add_argument("-e", "--max-bytes", default="32M", help="largest size (default 32M)")
    parser.add_argument("-f", "--step-factor", type=int, default=d.step_factor, help="size multiplier (default 2)")
    parser.add_argument("--iters", type=int, default=d.iters, help="timed iterations per size (default 20)")
    parser.add_argument("--warmup", type=int, default=d.warmup, help="untimed iterations per size (default 5)")
    parser.add_argument("--timeout", type=float, default=d.timeout_s,
                        help="seconds without any finished collective call before the run is ended (default 60)")
    parser.add_argument("--no-check", action="store_true", help="skip the correctness check")


def sweep_from_args(args, transport: str) -> SweepOptions:
    return SweepOptions(
        collectives=args.collectives, dtypes=args.dtypes,
        min_bytes=parse_size(args.min_bytes, "-b/--min-bytes"), max_bytes=parse_size(args.max_bytes, "-e/--max-bytes"),
        step_factor=args.step_factor, iters=args.iters, warmup=args.warmup, transport=transport,
        timeout_s=args.timeout, check=not args.no_check,
    ).validate()
