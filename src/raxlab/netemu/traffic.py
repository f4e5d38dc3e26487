"""Bounded background traffic inside an emulated fabric (run by `tiers._background`).

    python -m raxlab.netemu.traffic sink ADDR PORT SECONDS      # accept, read and drop
    python -m raxlab.netemu.traffic source ADDR PORT SECONDS    # connect, send as fast as the link lets

Both sides run in namespaces of the fabric, so the bytes never leave it (the addresses are
the fabric's private subnet); both end by themselves after SECONDS, and the fabric kills
them when it is removed. The rate is set by the sending namespace's shaped link.
"""

from __future__ import annotations

import socket
import sys
import time

CHUNK = 1 << 20


def sink(addr: str, port: int, seconds: float) -> None:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(1)
    srv.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        conn, _ = srv.accept()
    except OSError:
        return
    conn.settimeout(1.0)
    while time.monotonic() < deadline:
        try:
            if not conn.recv(CHUNK):
                return
        except socket.timeout:
            continue
        except OSError:
            return


def source(addr: str, port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = socket.create_connection((addr, port), timeout=2.0)
            break
        except OSError:
            time.sleep(0.1)
    else:
        return
    buf = b"\0" * CHUNK
    conn.settimeout(1.0)
    while time.monotonic() < deadline:
        try:
            conn.send(buf)
        except socket.timeout:
            continue
        except OSError:
            return


def main(argv: list[str]) -> None:
    mode, addr, port, seconds = argv[0], argv[1], int(argv[2]), float(argv[3])
    {"sink": sink, "source": source}[mode](addr, port, seconds)


if __name__ == "__main__":
    main(sys.argv[1:])
