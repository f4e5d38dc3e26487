"""Parse NCCL_DEBUG=INFO output to prove which transport actually carried the data.

Format strings from NVIDIA/nccl 2.30.7 (../shared/reference/measurement.md §2.2):
  `NET/IB : Using [0]mlx5_0:1/IB [1]mlx5_1:1/RoCE [RO]; OOB eth0:10.0.0.1<0>`  (net_ib/init.cc)
  `NET/Socket : Using [0]eth0:10.0.0.1<0>`                                      (net_socket.cc)
  `Using network IB` / `Using network Socket` / `Using network IBext_v8`         (init.cc)
  `Channel 00/0 : 0[0] -> 8[0] [send] via NET/IB/0/GDRDMA`                      (transport/net.cc)
  `Channel 00/0 : 0[0] -> 1[1] via P2P/IPC` / `via P2P/CUMEM` / `via SHM/direct/direct`
  `NET/IB : GPU Direct RDMA Enabled for HCA 0 'mlx5_0'`                          (graph/topo.cc)
  `NCCL_NET set by environment to Socket`                                        (ENV echoes)
RoCE is the IB transport on an Ethernet link layer; only the `/RoCE` suffix tells them
apart (§2.3). `NET/Socket` on an `ib*` interface is TCP over IPoIB, not RDMA.
Pure functions: unit-tested on captured lines, usable on any saved log.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

RE_VERSION = re.compile(r"NCCL version (\S+)")
RE_NETWORK = re.compile(r"Using network (\S+)")
RE_NET_IB = re.compile(r"NET/IB : Using (.*)")
RE_IB_DEV = re.compile(r"\[(\d+)\]([\w.\-]+):(\d+)/(IB|RoCE)")
RE_NET_SOCKET = re.compile(r"NET/Socket : Using (.*)")
RE_SOCK_DEV = re.compile(r"\[(\d+)\]([^\s:<]+):(\S+?)<\d+>")
RE_CHANNEL = re.compile(r"Channel (\d+)/(\d+) : (\d+)\[\w+\] -> (\d+)\[\w+\](?: \[(send|receive)\])? via (.+?)\s*$")
RE_GDR = re.compile(r"GPU Direct RDMA (Enabled|Disabled) for HCA")
RE_ENV = re.compile(r"(NCCL_\w+) set by environment to (.*?)\s*\.?\s*$")


@dataclass
class NcclTransport:
    """What one rank's NCCL log says about the transport."""

    version: str | None = None
    network: str | None = None  # "IB", "Socket" or an external plugin's name
    ib_devices: list[dict] = field(default_factory=list)  # {dev, port, link: IB|RoCE}
    socket_ifaces: list[dict] = field(default_factory=list)  # {ifname, addr}
    paths: dict[str, int] = field(default_factory=dict)  # "NET/IB/GDRDMA" -> channel count
    gdr: bool | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def net_paths(self) -> dict[str, int]:
        return {p: c for p, c in self.paths.items() if p.startswith("NET/")}

    @property
    def intra_paths(self) -> dict[str, int]:
        return {p: c for p, c in self.paths.items() if not p.startswith("NET/")}

    @property
    def kind(self) -> str:
        """ib | roce | ib+roce | tcp | tcp-ipoib | plugin:<name> | intra-node | unexercised:<net> | unknown"""
        nets = {p.split("/")[1] for p in self.net_paths}
        if not nets:
            if self.intra_paths:
                return "intra-node"
            return f"unexercised:{self.network}" if self.network else "unknown"
        if nets == {"IB"}:
            links = {d["link"] for d in self.ib_devices} or {"IB"}
            return "ib+roce" if len(links) > 1 else links.pop().lower()
        if nets == {"Socket"}:
            ib = any(i["ifname"].startswith("ib") for i in self.socket_ifaces)
            return "tcp-ipoib" if ib else "tcp"
        return "plugin:" + "+".join(sorted(nets))

    def to_dict(self) -> dict:
        return {**asdict(self), "kind": self.kind, "gdrdma": any("GDRDMA" in p for p in self.paths)}


def _path_class(via: str) -> str:
    """'NET/IB/0(3)/GDRDMA' -> 'NET/IB/GDRDMA'; 'P2P/direct pointer' -> 'P2P/direct pointer'."""
    parts = via.split("/")
    if parts[0] != "NET" or len(parts) < 2:
        return via.split("/")[0] + ("/" + parts[1] if len(parts) > 1 else "")
    flags = [p for p in parts[3:] if p in ("GDRDMA", "Shared")]
    return "/".join(["NET", parts[1], *flags])


def parse(text: str) -> NcclTransport:
    """Parse a whole NCCL INFO log (one rank's, or several concatenated)."""
    out = NcclTransport()
    paths: Counter = Counter()
    for line in text.splitlines():
        _parse_line(line, out, paths)
    out.paths = dict(paths)
    return out


def _parse_line(line: str, out: NcclTransport, paths: Counter) -> None:
    if m := RE_CHANNEL.search(line):
        paths[_path_class(m.group(6))] += 1
    elif m := RE_NET_IB.search(line):
        devs = [{"dev": d, "port": int(p), "link": link} for _, d, p, link in RE_IB_DEV.findall(m.group(1))]
        out.ib_devices = devs or out.ib_devices
    elif m := RE_NET_SOCKET.search(line):
        ifs = [{"ifname": i, "addr": a} for _, i, a in RE_SOCK_DEV.findall(m.group(1))]
        out.socket_ifaces = ifs or out.socket_ifaces
    elif m := RE_NETWORK.search(line):
        out.network = m.group(1)
    elif m := RE_VERSION.search(line):
        out.version = out.version or m.group(1)
    elif m := RE_GDR.search(line):
        out.gdr = bool(out.gdr) or m.group(1) == "Enabled"
    elif m := RE_ENV.search(line):
        out.env[m.group(1)] = m.group(2)
