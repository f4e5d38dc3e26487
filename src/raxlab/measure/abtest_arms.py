"""A/B arms: parsing `NAME=SPEC`, prices, and one running arm (its ranks, fabric, turns).

SPEC is one or two parts joined by '+': a transport (gloo, nccl, nccl-ib, nccl-socket)
and/or `emulate:RATE` (root: one rank per network namespace over links shaped to RATE) or
`emulate:TOPOLOGY` (a leaf-spine fabric, netemu/topology.py):

    --arm ib=nccl-ib --arm tcp=nccl-socket            # a real cluster node: transports
    --arm fast=emulate:4gbit --arm slow=emulate:1gbit  # one machine: link rates (gloo)
    --arm slow=gloo+emulate:1gbit
    --arm flat=emulate:leaves=2,nic=1gbit --arm taper=emulate:leaves=2,nic=1gbit,leaf=4:1 --ranks 4

An arm without a transport uses gloo on CPU and nccl-socket where CUDA is present (the
TCP arm either way; NCCL keeps off P2P/SHM on emulated links, transports.arm_env).
Each arm runs as its own `rax` launch of `ddp_worker --serve`: its ranks stay up for the
whole experiment and run one repetition per command, so arms take turns A B A B ...
without start-up cost in between (ddp_worker docstring).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from raxlab.errors import RaxError
from raxlab.measure.comm import transports
from raxlab.measure.comm.launch import LaunchSpec, launch
from raxlab.measure.ddp import WORKER, place, worker_args
from raxlab.measure.ddp_options import DdpOptions

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
TCP_TRANSPORTS = {"gloo": True, "nccl-socket": True, "nccl-ib": False, "nccl": None}


@dataclass
class ArmSpec:
    name: str
    spec: str
    transport: str
    emulate: str | None = None  # tc rate ("1gbit") or a topology ("nodes=4,leaves=2,nic=1gbit,leaf=4:1")
    rate_bps: float | None = None  # emulated capacity: the rate x ranks, or the topology's summed link rates
    fabric: str | None = None  # catalogue fabric the arm stands for (--arm-fabric)
    price_usd: float | None = None
    price_basis: str | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @property
    def tcp(self) -> bool | None:
        return TCP_TRANSPORTS.get(self.transport)


def default_transport() -> str:
    import torch

    return "nccl-socket" if torch.cuda.is_available() else "gloo"


def parse_arm(text: str, default: str | None = None, ranks: int | None = None) -> ArmSpec:
    """`NAME=SPEC` -> ArmSpec; one-line RaxError naming what is allowed."""
    from raxlab.netemu.shaping import parse_rate
    from raxlab.netemu.topology import is_topology, parse_topology

    name, sep, spec = text.partition("=")
    if not sep or not NAME_RE.match(name.strip()) or not spec.strip():
        raise RaxError(f"bad arm {text!r}; use NAME=SPEC, e.g. fast=emulate:4gbit or ib=nccl-ib "
                       "(NAME: letters, digits, _ . -)", field="--arm")
    transport, emulate, capacity = None, None, None
    for part in (p.strip() for p in spec.split("+")):
        if part.startswith("emulate:") and emulate is None:
            emulate = part.split(":", 1)[1]
            if is_topology(emulate):  # a leaf-spine fabric (netemu.topology); its capacity is its cost proxy
                capacity = parse_topology(emulate, ranks, field="--arm").capacity_bps
            else:
                capacity = parse_rate(emulate, field="--arm") * (ranks or 1)
        elif part in transports.ARMS and transport is None:
            transport = part
        else:
            raise RaxError(f"arm {name}: bad part {part!r}; a SPEC is a transport ({', '.join(transports.ARMS)}) "
                           "and/or emulate:RATE or emulate:TOPOLOGY (k=v,... or a .yaml file), joined by '+'",
                           field="--arm")
    transport = transport or default or default_transport()
    return ArmSpec(name.strip(), spec.strip(), transport, emulate, capacity)


def parse_arms(texts: list[str], default: str | None = None, ranks: int | None = None) -> list[ArmSpec]:
    arms = [parse_arm(t, default, ranks) for t in texts or []]
    if len(arms) < 2:
        raise RaxError(f"an A/B test needs at least two --arm, got {len(arms)}", field="--arm")
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise RaxError(f"arm names must differ, got {', '.join(names)}", field="--arm")
    if len({transports.get_arm(a.transport).backend for a in arms}) > 1:
        raise RaxError("arms on gloo (CPU) and NCCL (GPU) would compare devices, not networks: give every arm "
                       "the same backend", field="--arm")
    if len({a.emulate is None for a in arms}) > 1:
        raise RaxError("mix of emulated and real arms: give every arm an emulate:RATE, or none", field="--arm")
    return arms


def mapping(texts: list[str] | None, arms: list[ArmSpec], flag: str) -> dict[str, str]:
    """`NAME=VALUE` flags (--arm-fabric, --arm-price) keyed by a known arm name."""
    out = {}
    for text in texts or []:
        name, sep, value = text.partition("=")
        if not sep or not value:
            raise RaxError(f"bad {flag} {text!r}; use ARM=VALUE", field=flag)
        if name not in {a.name for a in arms}:
            raise RaxError(f"{flag}: no arm named {name!r}; arms: {', '.join(a.name for a in arms)}", field=flag)
        out[name] = value
    return out


def price_arms(arms: list[ArmSpec], fabrics: dict[str, str], prices: dict[str, str], *, servers: int,
               node_price_usd: float | None) -> list[str]:
    """Attach prices: declared (--arm-price) or the catalogue fabric's parts (--arm-fabric) for
    `servers` nodes, one rail, plus `node_price_usd` per node when given. Returns notes."""
    notes = []
    for arm in arms:
        if arm.name in prices:
            arm.price_usd, arm.price_basis = _usd(prices[arm.name]), "declared (--arm-price)"
        elif arm.name in fabrics:
            arm.fabric = fabrics[arm.name]
            arm.price_usd, arm.price_basis = _catalogue_price(arm.fabric, servers, notes)
        if arm.price_usd is not None and node_price_usd is not None and arm.name not in prices:
            arm.price_usd += node_price_usd * servers
            arm.price_basis += f" + {servers} nodes x ${node_price_usd:,.0f} (declared --node-price)"
    return notes


def _usd(text: str) -> float:
    try:
        v = float(text.replace(",", "").lstrip("$"))
    except ValueError:
        v = -1.0
    if not v > 0:
        raise RaxError(f"bad price {text!r}; give US dollars, e.g. 25000", field="--arm-price")
    return v


def _catalogue_price(fabric: str, servers: int, notes: list[str]) -> tuple[float | None, str | None]:
    from raxlab.catalog import fabric_bom, load_catalog

    cat = load_catalog()
    cat.fabric(fabric)  # unknown name: RaxError listing the fabrics
    _, lines = fabric_bom(cat, fabric, servers=servers, rails=1)
    missing = [f"{ln.kind} {ln.name}" for ln in lines if ln.unit_price_usd is None]
    if missing:
        notes.append(f"{fabric}: no price for {', '.join(missing)}; cost per unit of work is N/A")
        return None, None
    labels = sorted({ln.price_label for ln in lines if ln.price_label})
    parts = ", ".join(f"{ln.count} x {ln.name}" for ln in lines)
    return sum(ln.price_usd for ln in lines), f"catalogue ({'/'.join(labels)}): {fabric} network for {servers} " \
                                                f"nodes, 1 rail: {parts}; servers not included"


class ArmProcess:
    """One arm's ranks, launched in a thread; events go to the shared queue as (name, event)."""

    def __init__(self, arm: ArmSpec, opts: DdpOptions, ranks: int, events: queue.Queue, work_dir: str,
                 rep_warmup: int):
        self.arm, self.opts, self.ranks, self.events = arm, opts, ranks, events
        self.rep_warmup = rep_warmup
        self.control = Path(work_dir) / f"control-{arm.name}.json"
        self.log_dir = Path(work_dir) / f"nccl-{arm.name}"
        self.seq = 0
        self.thread: threading.Thread | None = None
        self.placement = None
        self.spec: LaunchSpec | None = None
        self.env: dict[str, str] = {}
        self.info: dict = {"setup": None, "transport": {}, "warm": []}

    def start(self, stack: contextlib.ExitStack) -> None:
        """Build the arm's fabric (if emulated) and its launch; `go()` starts the ranks."""
        tarm = transports.get_arm(self.arm.transport)
        self.placement = place(stack, self.ranks, self.arm.emulate)
        self.env = transports.arm_env(tarm, ifname=self.placement.ifname, log_dir=str(self.log_dir),
                                      emulated=self.placement.fabric is not None)
        args = worker_args(self.opts, tarm, self.placement) + ["--serve", str(self.control),
                                                               "--rep-warmup", str(self.rep_warmup)]
        # Rank r of every arm on the same core: a rank placement that differs between arms and persists
        # for seconds (two ranks of one arm sharing a core with other work) would not cancel in the pairs.
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        self.spec = LaunchSpec(WORKER, args, ranks=self.ranks, env=self.env, fabric=self.placement.fabric,
                               timeout_s=self.opts.timeout_s, master_port=self.placement.master_port,
                               setup_timeout_s=max(180.0, self.opts.timeout_s), cpus=cpus)

    def go(self) -> None:
        """Launch the ranks in a thread (launch() blocks until they end)."""
        self.thread = threading.Thread(target=self._run, args=(self.spec,), name=f"arm-{self.arm.name}",
                                       daemon=True)
        self.thread.start()

    def _run(self, spec: LaunchSpec) -> None:
        name = self.arm.name
        try:
            launch(spec, lambda ev: self.events.put((name, ev)))
        except BaseException as exc:  # handed to the main thread, which ends the experiment
            self.events.put((name, {"ev": "_failed", "error": exc}))
        finally:
            self.events.put((name, {"ev": "_exit"}))

    def command(self, cmd: str, rep: int | None = None) -> None:
        """Write the next command atomically (the ranks poll the file)."""
        self.seq += 1
        tmp = self.control.with_suffix(".tmp")
        tmp.write_text(json.dumps({"seq": self.seq, "cmd": cmd, "rep": rep}))
        os.replace(tmp, self.control)

    def join(self, timeout: float) -> bool:
        if self.thread is not None:
            self.thread.join(timeout)
            return not self.thread.is_alive()
        return True

    def kill_leftovers(self) -> None:
        """SIGKILL this arm's ranks that outlived an abort (a rank stuck mid-step or stopped):
        they are the children whose command line names this arm's control file."""
        import psutil

        mark = str(self.control)
        for child in psutil.Process().children(recursive=True):
            try:
                if any(mark in arg for arg in child.cmdline()):
                    child.kill()
            except psutil.Error:
                pass

    def describe(self) -> dict:
        return {**self.arm.to_dict(), "env": self.env, "cpus": self.spec.cpus if self.spec else None,
                "fabric_built": self.placement.describe() if self.placement else None,
                "launcher": self.placement.launcher if self.placement else None}


@dataclass
class RepResult:
    arm: str
    rep: int
    sync_s: list[float]
    nosync_s: list[float] = field(default_factory=list)
    a2a_sync_s: list[float] = field(default_factory=list)  # expert parallel: seconds inside the all-to-alls
    a2a_nosync_s: list[float] = field(default_factory=list)

    def compute_s(self) -> list[float]:
        """Steps without communication: the no_sync steps, less their all-to-all under expert parallel
        (moe_record: the all-to-alls stay in a no_sync step)."""
        if not self.a2a_nosync_s:
            return list(self.nosync_s)
        return [n - a for n, a in zip(self.nosync_s, self.a2a_nosync_s)]
