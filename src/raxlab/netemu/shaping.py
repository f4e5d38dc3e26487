"""Link rates and the `tc tbf` parameters that shape a veth to them.

Rates use tc's SI units (iproute2 `get_rate`: kbit = 1e3, mbit = 1e6, gbit = 1e9 bit/s),
so "1gbit" is 1e9 bit/s = 0.125 GB/s with GB = 1e9 B, the unit nccl-tests reports.
tc's "bps" means *bytes* per second, a classic trap, so only `bit` forms are accepted.

tbf needs a bucket (`burst`) at least as large as the biggest packet it is handed:
veth passes GSO super-packets of up to 64 KiB, and a bucket smaller than that makes
tbf split or drop them (measured here: burst 64 kb at 1 gbit gave 41 % of the rate,
256 kb gave 93 %, MTU 1500). The bucket also lets an idle link send `burst` bytes at
once, so it is kept small against the messages measured: max(128 KiB, 1 ms of rate)
(1.25 MB at 10 gbit, which matches the >= 1 mb measured to be needed there).
The queue (`limit`) holds 25 ms of traffic so TCP sees no tail drops at these RTTs.

There is no `sch_netem` in this kernel, so latency and loss are NOT emulated: an
emulated link has the rate of the real one and the latency of a veth (~10 us). And a
message no larger than the bucket, sent after an idle gap, leaves at veth speed
(measured: 128 KiB all-reduces over 1 gbit links ran at 0.11-0.14 GB/s busbw, faster
than the 256 KiB-1 MiB sizes around them), so
on emulated links only the large-size figures (β) describe the link; α is the host's.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from raxlab.errors import RaxError

_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:bit(?:/s)?)?\s*$", re.IGNORECASE)
MIN_BURST_B = 128 * 1024  # two 64 KiB GSO packets
BURST_S = 1e-3
QUEUE_S = 25e-3
DEFAULT_MTU = 9000  # AI fabrics run jumbo frames; also keeps TCP/IP header overhead < 1 %
LATENCY_NOTE = ("latency not emulated (no sch_netem in this kernel): rate only; a message within the tbf "
                "bucket (burst) after an idle gap passes at veth speed, so small-size times are the host's")


def parse_rate(text: str, field: str = "--emulate") -> float:
    """Bits per second from '1gbit', '2.5gbit', '500mbit' or '1g' (SI, as tc)."""
    m = _RATE_RE.match(str(text))
    if not m or "bps" in str(text).lower():
        raise RaxError(f"bad link rate {text!r}; use a number with kbit, mbit or gbit, e.g. 1gbit, 500mbit",
                       field=field)
    bps = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not 1e6 <= bps <= 400e9:
        raise RaxError(f"link rate {text!r} is outside 1mbit..400gbit", field=field)
    return bps


def format_rate(bps: float) -> str:
    """'1gbit', '2.5gbit', '500mbit': the tc spelling of a rate in bit/s."""
    for unit, mult in (("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3)):
        if bps >= mult:
            return f"{bps / mult:g}{unit}"
    return f"{bps:g}bit"


@dataclass(frozen=True)
class Shaping:
    """tbf parameters for one direction of one link."""

    rate_bps: float
    burst_bytes: int
    limit_bytes: int
    mtu: int = DEFAULT_MTU

    @property
    def rate_GBps(self) -> float:
        return self.rate_bps / 8 / 1e9

    def tbf_args(self) -> list[str]:
        return ["tbf", "rate", f"{int(self.rate_bps)}bit", "burst", str(self.burst_bytes),
                "limit", str(self.limit_bytes)]

    def to_dict(self) -> dict:
        return {**asdict(self), "rate": format_rate(self.rate_bps), "rate_GBps": self.rate_GBps,
                "qdisc": "tbf", "where": "each rank's egress and ingress", "note": LATENCY_NOTE}


def shaping_for(rate: str | float, mtu: int = DEFAULT_MTU) -> Shaping:
    """The tbf parameters for a link of `rate` ('1gbit' or bit/s)."""
    bps = parse_rate(rate) if isinstance(rate, str) else float(rate)
    byte_rate = bps / 8
    burst = max(MIN_BURST_B, int(byte_rate * BURST_S), 2 * mtu)
    limit = max(4 * burst, int(byte_rate * QUEUE_S))
    return Shaping(bps, burst, limit, mtu)
