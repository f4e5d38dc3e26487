"""Text output in the nccl-tests layout (src/util.cu `writeResultHeader`), then peaks and fit.

Rows stream as rank 0 reports them; a header is printed whenever the collective or
dtype changes. Under the table: the peak busbw over large sizes per collective (not the
mean nccl-tests prints as "Avg bus bandwidth") and the α-β fit.
"""

from __future__ import annotations

from typing import TextIO

from raxlab.measure.comm.options import format_size

HEAD = ("#{:>11}  {:>12}  {:>8}  {:>10}  {:>9}  {:>9}  {:>6}".format(
    "size", "count", "type", "time", "algbw", "busbw", "#wrong")
    + "\n#{:>11}  {:>12}  {:>8}  {:>10}  {:>9}  {:>9}  {:>6}".format(
    "(B)", "(elements)", "", "(us)", "(GB/s)", "(GB/s)", ""))


def _num(v: float | None, spec: str) -> str:
    return "N/A" if v is None else format(v, spec)


class TableWriter:
    """Prints rows as they arrive, with a header per collective x dtype."""

    def __init__(self, out: TextIO, title: str):
        self.out, self.title, self.key = out, title, None

    def row(self, r: dict) -> None:
        key = (r["collective"], r["dtype"])
        if key != self.key:
            self.key = key
            print(f"\n# {r['collective']}, {r['ranks']} ranks, {self.title}, {r['dtype']}", file=self.out)
            print(HEAD, file=self.out)
        wrong = "N/A" if r.get("wrong") is None else str(r["wrong"])
        flag = "  noisy" if r.get("stats", {}).get("noisy") else ""
        print(" {:>11}  {:>12}  {:>8}  {:>10}  {:>9}  {:>9}  {:>6}{}".format(
            r["size_bytes"], r["count"], r["type"], f"{r['time_us']:.1f}", f"{r['algbw_GBps']:.4f}",
            f"{r['busbw_GBps']:.4f}", wrong, flag), file=self.out, flush=True)


def write_summary(out: TextIO, fits: list[dict], link_GBps: float | None = None) -> None:
    """Peak busbw and the α-β fit, one line per collective x transport x ranks x dtype."""
    if not fits:
        print("\n# no points measured", file=out)
        return
    print("\n# peak busbw over large sizes (>= 1/8 of the largest), and the alpha-beta fit "
          "t = alpha + S*factor/beta", file=out)
    link = f"  {'of link':>7}" if link_GBps else ""
    print("#{:>15} {:>5} {:>6} {:>12} {:>11} {:>10}{} {:>11} {:>6} {:>10}".format(
        "collective", "dtype", "ranks", "transport", "peak busbw", "at size", link, "alpha(us)", "R2",
        "n_half"), file=out)
    for f in fits:
        pct = f"  {f['beta_GBps'] / link_GBps:>7.1%}" if link_GBps and f.get("beta_GBps") else (
            f"  {'':>7}" if link_GBps else "")
        print(" {:>15} {:>5} {:>6} {:>12} {:>11} {:>10}{} {:>11} {:>6} {:>10}".format(
            f["collective"], f["dtype"], f["ranks"], f["transport"], _num(f.get("beta_GBps"), ".4f"),
            format_size(f["peak_size_bytes"]) if f.get("peak_size_bytes") else "N/A", pct,
            _num(f.get("alpha_us"), ".1f"), _num(f.get("r2"), ".3f"),
            format_size(int(f["n_half_bytes"])) if f.get("n_half_bytes") else "N/A"), file=out)
        if f.get("note"):
            print(f"#   {f['collective']} {f['dtype']}: {f['note']}", file=out)
    print("# busbw in GB/s (1e9 B/s), nccl-tests definitions; alpha is the whole collective's latency",
          file=out)


def title_for(transport: str, emulate: str | None = None, mtu: int | None = None,
              ifname: str | None = None) -> str:
    """'gloo via lo' or 'gloo over emulated 1gbit links (tbf, MTU 9000; latency not emulated)'."""
    if emulate == "unshaped":
        return f"{transport} over unshaped veth links (the host's ceiling)"
    if emulate and ("=" in emulate or emulate.endswith((".yaml", ".yml"))):
        return f"{transport} over an emulated leaf-spine fabric {emulate} (tbf, MTU {mtu}; latency not emulated)"
    if emulate:
        return f"{transport} over emulated {emulate} links (tbf, MTU {mtu}; latency not emulated: no netem)"
    return f"{transport} via {ifname}" if ifname else transport
