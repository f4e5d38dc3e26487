"""Listening TCP sockets of a set of processes, read from /proc (each process's own network
namespace: /proc/<pid>/net/tcp), so ranks inside emulated fabrics are seen too."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

LISTEN = "0A"  # TCP_LISTEN in include/net/tcp_states.h


def _addr(hexaddr: str) -> tuple[str, int]:
    host, port = hexaddr.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        ip = ipaddress.IPv4Address(raw[::-1])
    else:  # four little-endian 32-bit words
        ip = ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
    return str(ip), int(port, 16)


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    try:
        for fd in os.scandir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(fd.path)
            except OSError:
                continue
            if target.startswith("socket:["):
                out.add(target[8:-1])
    except OSError:
        pass
    return out


def listeners(pids: list[int]) -> set[tuple[str, int, int]]:
    """(address, port, pid) of every listening TCP socket the processes hold."""
    found = set()
    for pid in pids:
        inodes = _socket_inodes(pid)
        if not inodes:
            continue
        for table in ("tcp", "tcp6"):
            try:
                lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                f = line.split()
                if f[3] == LISTEN and f[9] in inodes:
                    found.add((*_addr(f[1]), pid))
    return found


def all_listening() -> set[tuple[str, int]]:
    """Every listening (address, port) in this network namespace, whoever owns it."""
    out = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == LISTEN:
                out.add(_addr(f[1]))
    return out


def ephemeral_range() -> tuple[int, int]:
    lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return int(lo), int(hi)


WILDCARDS = {"0.0.0.0", "::"}
SEEN: dict[str, list] = {}  # run -> (address, port) listeners observed, for the session summary
