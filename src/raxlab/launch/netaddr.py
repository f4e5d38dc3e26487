"""Which interface and address a node binds: the one named, or the one routing to the rendezvous.

    b = choose_binding("10.0.0.1", ifname=None)   # Binding(ifname, address, hosts_rendezvous, how)

Rules (nothing is bound to every interface):
- `--ifname IF`: the node's IPv4 address on IF; rendezvous, process-group store, gloo and
  NCCL sockets all use it.
- otherwise the interface the kernel routes the rendezvous address through
  (`ip -j route get ADDR`, or a UDP connect when iproute2 is missing). On the node that
  owns the rendezvous address the route is `local ... dev lo`: the interface that carries
  the address is used instead.
A rendezvous address that is one of this node's own addresses makes this node the host.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import subprocess
from dataclasses import dataclass

from raxlab.errors import RaxError


@dataclass(frozen=True)
class Binding:
    ifname: str
    address: str
    hosts_rendezvous: bool  # the rendezvous address is this node's own
    how: str  # in words, for the printed plan

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def resolve(host: str, field: str = "--rdzv-endpoint") -> str:
    """An IPv4 literal as is, a name through the resolver (first IPv4 address)."""
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        raise RaxError(f"cannot resolve rendezvous host {host!r}: {exc}", field=field) from None
    return infos[0][4][0]


def interfaces() -> dict[str, list[str]]:
    """IPv4 addresses per interface name."""
    import psutil

    return {name: [a.address for a in addrs if a.family == socket.AF_INET]
            for name, addrs in psutil.net_if_addrs().items()}


def interface_of(address: str) -> str | None:
    return next((name for name, addrs in interfaces().items() if address in addrs), None)


def route_to(address: str) -> tuple[str | None, str | None]:
    """(interface, source address) the kernel uses towards `address`."""
    if shutil.which("ip"):
        try:
            out = subprocess.run(["ip", "-j", "route", "get", address], capture_output=True, text=True, timeout=5)
            route = json.loads(out.stdout)[0] if out.returncode == 0 and out.stdout.strip() else {}
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            route = {}
        if route.get("dev"):
            return route["dev"], route.get("prefsrc")
    from raxlab.measure.comm.nodes import source_address

    src = source_address(address)
    return (interface_of(src), src) if src else (None, None)


def choose_binding(rdzv_addr: str, ifname: str | None = None) -> Binding:
    """This node's interface and address for a run whose rendezvous is at `rdzv_addr` (IPv4)."""
    own = interface_of(rdzv_addr)
    if ifname:
        addrs = interfaces().get(ifname)
        if addrs is None:
            raise RaxError(f"no interface {ifname!r} on this node; it has {', '.join(sorted(interfaces()))}",
                           field="--ifname")
        if not addrs:
            raise RaxError(f"interface {ifname!r} has no IPv4 address", field="--ifname")
        address = rdzv_addr if own == ifname else addrs[0]
        return Binding(ifname, address, own is not None, f"{ifname} as named (--ifname)")
    if own is not None:
        return Binding(own, rdzv_addr, True, f"{own} carries the rendezvous address {rdzv_addr}")
    dev, src = route_to(rdzv_addr)
    if not dev or not src:
        raise RaxError(f"no route from this node to the rendezvous address {rdzv_addr}; name the interface "
                       "with --ifname", field="--rdzv-endpoint")
    return Binding(dev, src, False, f"{dev} routes to the rendezvous address {rdzv_addr}")
