"""An emulated fabric: N rank namespaces, each joined by a shaped veth to one bridge.

Layout (all names carry a per-run prefix `rax-<pid>-<hex>`, so concurrent runs never
collide, and a dead run's leftovers can be found by its pid):

    <prefix>-r0 [rax0 10.77.0.1] ==veth== [p0]                  tbf on rax0: rank 0 egress
    <prefix>-r1 [rax0 10.77.0.2] ==veth== [p1]  <prefix>-br     tbf on p0:   rank 0 ingress
    ...                                         (bridge br0)

The bridge lives in its own namespace, so nothing is added to the root namespace, the
interface names only have to be unique inside a namespace, and deleting the namespaces
deletes every veth. Each rank's traffic leaves through its own veth and arrives through
its own bridge port, so a ring all-reduce is limited by the rate of one link in each
direction, as on a switch with one NIC per node: busbw should come out close to the
link rate (nccl-tests PERFORMANCE.md: busbw is comparable to the bottleneck link).

Root only; `ip` and `tc` from iproute2. Latency is not emulated (see `shaping`).
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from raxlab.errors import RaxError
from raxlab.netemu.shaping import DEFAULT_MTU, Shaping, shaping_for

IFNAME = "rax0"  # the rank-side interface, inside each rank namespace
SUBNET = "10.77.0"  # private to the run's namespaces, so it never meets a real network
MAX_RANKS = 250
_LIVE: dict[str, "Fabric"] = {}  # prefix -> fabric, torn down at exit if still up


def require_netemu() -> None:
    """RaxError unless this process can build namespaces: root, `ip` and `tc` present."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        raise RaxError("emulated fabrics need root (network namespaces and tc); run as root or "
                       "drop --emulate", field="--emulate")
    missing = [tool for tool in ("ip", "tc") if shutil.which(tool) is None]
    if missing:
        raise RaxError(f"emulated fabrics need iproute2; missing: {', '.join(missing)}", field="--emulate")


def run_cmd(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run an `ip`/`tc` command; a failure is a RaxError quoting the command and stderr."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RaxError(f"netemu: `{' '.join(argv)}` failed: {exc}") from exc
    if check and proc.returncode != 0:
        raise RaxError(f"netemu: `{' '.join(argv)}` failed: {proc.stderr.strip() or proc.returncode}")
    return proc


def _netns_names() -> list[str]:
    proc = run_cmd("ip", "netns", "list", check=False)
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def new_prefix() -> str:
    """`rax-<pid>-<6 hex>`: unique per run; the pid lets `sweep_stale` spot dead owners."""
    return f"rax-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass
class Fabric:
    """A built emulated fabric; a context manager that tears itself down."""

    prefix: str
    ranks: int
    shaping: Shaping | None
    ifname: str = IFNAME
    subnet: str = SUBNET
    built: list[str] = field(default_factory=list)  # namespaces that exist, in creation order

    @property
    def bridge_ns(self) -> str:
        return f"{self.prefix}-br"

    def namespace(self, rank: int) -> str:
        return f"{self.prefix}-r{rank}"

    def address(self, rank: int) -> str:
        return f"{self.subnet}.{rank + 1}"

    def exec_prefix(self, rank: int) -> list[str]:
        """argv prefix running a command inside rank `rank`'s namespace (execs in place)."""
        return ["ip", "netns", "exec", self.namespace(rank)]

    def describe(self) -> dict:
        return {
            "prefix": self.prefix, "ranks": self.ranks, "ifname": self.ifname,
            "addresses": [self.address(r) for r in range(self.ranks)],
            "topology": "one veth per rank to a bridge in its own namespace",
            "shaping": self.shaping.to_dict() if self.shaping else None,
        }

    # -- reshaping (an A/B swaps the rates of two fabrics of one shape between its process sets) --
    def shape_key(self) -> tuple:
        """Fabrics with equal keys differ at most in their rates: `reshape` turns one into the other."""
        return ("links", self.ranks, self.shaping is not None)

    def tiers(self) -> dict[str, Shaping | None]:
        return {"link": self.shaping}

    def tier_queues(self, tier: str) -> list[tuple[str, str]]:
        """(namespace, device) of every tbf queue of a tier: each rank's egress and ingress."""
        return [q for r in range(self.ranks) for q in ((self.namespace(r), self.ifname), (self.bridge_ns, f"p{r}"))]

    def reshape(self, tiers: dict[str, Shaping | None]) -> None:
        """Change the tbf rates of the tiers that differ (`tc qdisc change`; the queues stay)."""
        for tier, new in tiers.items():
            if new == self.tiers()[tier]:
                continue
            if new is None or self.tiers()[tier] is None:
                raise RaxError(f"netemu: cannot turn the {tier} tier between shaped and unshaped in place")
            for ns, dev in self.tier_queues(tier):
                run_cmd("tc", "-n", ns, "qdisc", "change", "dev", dev, "root", *new.tbf_args())
            self._set_tier(tier, new)

    def _set_tier(self, tier: str, shaping: Shaping) -> None:
        self.shaping = shaping

    def close(self) -> None:
        """Delete every namespace of this fabric (idempotent; never raises).

        `ip netns del` can fail transiently (EBUSY) while another process is creating or
        entering namespaces at the same moment, so deletion is retried briefly."""
        left = list(reversed(self.built))
        for attempt in range(6):
            for ns in left:
                run_cmd("ip", "netns", "del", ns, check=False)
            existing = set(_netns_names())
            left = [ns for ns in left if ns in existing]
            if not left:
                break
            time.sleep(0.1 * (attempt + 1))
        self.built = left  # whatever still exists is left for sweep_stale()
        if not left:
            _LIVE.pop(self.prefix, None)

    def __enter__(self) -> "Fabric":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def build_fabric(ranks: int, rate: str | float | None = None, *, mtu: int = DEFAULT_MTU,
                 prefix: str | None = None) -> Fabric:
    """Build `ranks` namespaces on one bridge, each link shaped to `rate` both ways.

    `rate` None leaves the links unshaped (veth speed). On any failure the partial
    fabric is removed before the RaxError propagates.
    """
    require_netemu()
    if not 1 <= ranks <= MAX_RANKS:
        raise RaxError(f"an emulated fabric holds 1..{MAX_RANKS} ranks, got {ranks}", field="--ranks")
    shaping = shaping_for(rate, mtu) if rate is not None else None
    fab = Fabric(prefix or new_prefix(), ranks, shaping)
    _LIVE[fab.prefix] = fab
    try:
        _add_bridge(fab)
        for rank in range(ranks):
            _add_rank(fab, rank, mtu)
    except BaseException:
        fab.close()
        raise
    return fab


def _add_ns(fab: Fabric, ns: str) -> None:
    run_cmd("ip", "netns", "add", ns)
    fab.built.append(ns)
    run_cmd("ip", "-n", ns, "link", "set", "lo", "up")


def _add_bridge(fab: Fabric) -> None:
    ns = fab.bridge_ns
    _add_ns(fab, ns)
    run_cmd("ip", "-n", ns, "link", "add", "br0", "type", "bridge")
    run_cmd("ip", "-n", ns, "link", "set", "br0", "up")


def _add_rank(fab: Fabric, rank: int, mtu: int) -> None:
    ns, br, port = fab.namespace(rank), fab.bridge_ns, f"p{rank}"
    _add_ns(fab, ns)
    # Create the pair inside the bridge namespace and move one end out in the same
    # call: the names never appear in the root namespace, so concurrent runs cannot clash.
    run_cmd("ip", "-n", br, "link", "add", port, "mtu", str(mtu), "type", "veth",
            "peer", "name", fab.ifname, "mtu", str(mtu), "netns", ns)
    run_cmd("ip", "-n", br, "link", "set", port, "master", "br0", "up")
    run_cmd("ip", "-n", ns, "addr", "add", f"{fab.address(rank)}/24", "dev", fab.ifname)
    run_cmd("ip", "-n", ns, "link", "set", fab.ifname, "up")
    if fab.shaping is not None:
        args = fab.shaping.tbf_args()
        run_cmd("tc", "-n", ns, "qdisc", "add", "dev", fab.ifname, "root", *args)  # egress
        run_cmd("tc", "-n", br, "qdisc", "add", "dev", port, "root", *args)  # ingress


def qdisc_stats(fab: Fabric, rank: int) -> dict:
    """Bytes sent and drops of the rank's two tbf queues (for diagnosing a slow link)."""
    out = {}
    for side, ns, dev in (("egress", fab.namespace(rank), fab.ifname), ("ingress", fab.bridge_ns, f"p{rank}")):
        text = run_cmd("tc", "-s", "-n", ns, "qdisc", "show", "dev", dev, check=False).stdout
        words = text.split()
        pick = lambda key: int(words[words.index(key) + 1].rstrip(",")) if key in words else None  # noqa: E731
        out[side] = {"sent_bytes": pick("Sent"), "dropped": pick("(dropped")}
    return out


@atexit.register
def _teardown_all() -> None:
    """Last line of defence: fabrics still up when the interpreter exits are removed."""
    for fab in list(_LIVE.values()):
        fab.close()
