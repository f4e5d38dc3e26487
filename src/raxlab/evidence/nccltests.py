"""Read the text output of NVIDIA nccl-tests (`all_reduce_perf`, `all_gather_perf`,
`reduce_scatter_perf`, `alltoall_perf`, `sendrecv_perf`, `broadcast_perf`, `reduce_perf`).

Formats (NVIDIA/nccl-tests src/common.cu print_header / print_line of its releases; logs pasted in
its issues #7, #82, #118, #176, #249, #287, #294 and NVIDIA/nccl #1218, #1435):

    # nThread 1 nGpus 1 minBytes 8 maxBytes 8589934592 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0
    #  Rank  0 Group  0 Pid   6899 on host-a device  0 [0000:04:00] NVIDIA H100 80GB HBM3     (>= 2.10)
    #   Rank  0 Pid  26528 on  dgx-work01 device  0 [0x07] NVIDIA A100-SXM4-40GB                (older: no Group)
    #       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong
    #       size         count      type   redop     time   algbw   busbw  error     time   algbw   busbw  error   (older)
    #       size         count    type    root     time   algbw   busbw  error     time   algbw   busbw  error      (older broadcast)
               8             2     float     sum      -1    135.8    0.00    0.00      0    123.5    0.00    0.00      0
    # Out of bounds values : 0 OK
    # Avg bus bandwidth    : 70.742

The column header names the columns, so each release's layout is read by name: the fields before
the first `time`, then one group (time us, algbw GB/s, busbw GB/s, #wrong or error) out-of-place
and one in-place. `#wrong` is `N/A` when validation is off (`-c 0`); older releases print the max
error instead (`1e-06`). Some tools strip the leading `#`. NCCL_DEBUG lines, mpirun noise and
several runs in one file are fine; a row cut short, a file without a single row, or the end of a
file before `# Avg bus bandwidth` is a one-line RaxError naming the line.

Which collective: `Collective test starting: X_perf` or the `X_perf` command in the file, else its
file name, else `--collective`; checked against the printed busbw/algbw ratio, which is the
nccl-tests bus factor of the collective and the rank count (doc/PERFORMANCE.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from raxlab.errors import RaxError
from raxlab.fits import busbw_factor

BINARIES = {"all_reduce_perf": "all_reduce", "all_gather_perf": "all_gather", "reduce_scatter_perf": "reduce_scatter",
            "alltoall_perf": "all_to_all", "sendrecv_perf": "send_recv", "broadcast_perf": "broadcast",
            "reduce_perf": "reduce"}
UNSUPPORTED = ("gather_perf", "scatter_perf", "hypercube_perf")
COLLECTIVES = tuple(BINARIES.values())
TYPES = {"float": "fp32", "half": "fp16", "bfloat16": "bf16", "double": "fp64", "int8": "int8", "uint8": "uint8",
         "int32": "int32", "uint32": "uint32", "int64": "int64", "uint64": "uint64", "f8e4m3": "fp8e4m3",
         "f8e5m2": "fp8e5m2"}
# The placement that matches `rax bench comm` (measure/comm/collectives.py: in_place): a training
# all-reduce reduces its gradient buckets in place.
IN_PLACE = {"all_reduce", "broadcast"}
RATIO_TOLERANCE = 0.03

RE_HEADER = re.compile(r"nThread\s+(\d+)\s+nGpus\s+(\d+)|nGpus(?:\(perProc\))?\s+(\d+)\s+minBytes")
RE_KV = re.compile(r"(minBytes|maxBytes|warmup iters|iters|agg iters|validation|graph)\s*:?\s+(\d+)")
RE_RANK = re.compile(r"Rank\s+(\d+)\s+(?:Group\s+\d+\s+)?Pid\s+(\d+)\s+on\s+(\S+)\s+device\s+(\d+)\s+\[([^\]]*)\]\s*(.*)$")
# leftmost match wins, longest name first: `all_reduce_perf` is not read as `reduce_perf`
RE_BINARY = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(sorted([*BINARIES, *UNSUPPORTED], key=len, reverse=True)) + ")")
RE_AVG = re.compile(r"Avg bus bandwidth\s*:\s*([-+\d.eE]+|nan|-nan|inf)")
RE_BOUNDS = re.compile(r"Out of bounds values\s*:\s*(\d+)\s+(OK|FAILED)")
GROUP = ("time", "algbw", "busbw")


@dataclass
class Section:
    """One run of one nccl-tests binary inside a file."""

    file: str
    line: int  # where it starts
    collective: str | None = None
    header: dict = field(default_factory=dict)
    devices: list = field(default_factory=list)  # {rank, pid, host, device, bus, name}
    columns: list | None = None
    rows: list = field(default_factory=list)  # parsed rows, see _row
    avg_busbw_GBps: float | None = None
    bounds: tuple | None = None  # (count, "OK" | "FAILED")

    @property
    def ranks(self) -> int | None:
        return max(d["rank"] for d in self.devices) + 1 if self.devices else None

    @property
    def hosts(self) -> list[str]:
        return sorted({d["host"] for d in self.devices})


def parse_file(path: Path, collective: str | None = None) -> tuple[list[Section], str]:
    """(sections, text) of one log file; `collective` names what the file does not say."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise RaxError(f"cannot read {path}: {exc.strerror or exc}", field="FILE") from None
    sections = parse_text(text, str(path), collective)
    return sections, text


def parse_text(text: str, name: str, collective: str | None = None) -> list[Section]:
    lines = text.splitlines()
    sections: list[Section] = []
    cur: Section | None = None
    hint = _binary_in(Path(name).name)
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        body = line.lstrip("#").strip()
        if m := RE_BINARY.search(line):
            hint = _collective_of(m.group(1), name, no)
            if cur is not None and not cur.rows:
                cur.collective = cur.collective or hint
        if RE_HEADER.search(body):
            cur = Section(name, no, collective=hint, header=_header(body))
            sections.append(cur)
            continue
        if cur is None and _is_row(body, line):
            cur = Section(name, no, collective=hint)  # rows pasted without the header
            sections.append(cur)
        if cur is None:
            continue
        _feed(cur, body, line, no)
    if not sections or not any(s.rows for s in sections):
        raise RaxError(f"{name}: no nccl-tests result rows (the lines after the `# size count type ...` header)",
                       field="FILE")
    for s in sections:
        _finish(s, collective, len(lines))
    return [s for s in sections if s.rows]


def _feed(cur: Section, body: str, line: str, no: int) -> None:
    tokens = body.split()
    if m := RE_RANK.search(body):
        cur.devices.append({"rank": int(m.group(1)), "pid": int(m.group(2)), "host": m.group(3),
                            "device": int(m.group(4)), "bus": m.group(5), "name": m.group(6).strip()})
    elif tokens[:1] == ["size"] and "count" in tokens and "time" in tokens:
        cur.columns = tokens
    elif m := RE_AVG.search(body):
        cur.avg_busbw_GBps = _float(m.group(1))
    elif m := RE_BOUNDS.search(body):
        cur.bounds = (int(m.group(1)), m.group(2))
    elif _is_row(body, line):
        cur.rows.append(_row(cur, tokens, no))


def _is_row(body: str, line: str) -> bool:
    tokens = body.split()
    return bool(tokens) and tokens[0].isdigit() and (not line.startswith("#")) and len(tokens) >= 5


def _header(body: str) -> dict:
    out = {k.replace(" ", "_"): int(v) for k, v in RE_KV.findall(body)}
    m = re.search(r"nThread\s+(\d+)", body)
    g = re.search(r"nGpus(?:\(perProc\))?\s+(\d+)", body)
    out.update({"nThread": int(m.group(1)) if m else None, "nGpus": int(g.group(1)) if g else None})
    return out


def _binary_in(text: str) -> str | None:
    m = RE_BINARY.search(text)
    return BINARIES.get(m.group(1)) if m else None


def _collective_of(binary: str, name: str, no: int) -> str:
    if binary in UNSUPPORTED:
        raise RaxError(f"{name} line {no}: {binary} is not imported; supported: {', '.join(BINARIES)}", field="FILE")
    return BINARIES[binary]


def _columns(cur: Section, tokens: list[str], no: int) -> list[str]:
    """The header's columns, or (rows pasted without a header) the layout their shape implies."""
    if cur.columns:
        return cur.columns
    groups = ["time", "algbw", "busbw", "#wrong"] * 2
    if len(tokens) == 13:
        return ["size", "count", "type", "redop", "root", *groups]
    if len(tokens) == 12:
        fourth = "root" if tokens[3].lstrip("-").isdigit() else "redop"
        return ["size", "count", "type", fourth, *groups]
    raise RaxError(f"{cur.file} line {no}: a result row without the `# size count type ...` header above it and "
                   f"{len(tokens)} columns (13 or 12 expected)", field="FILE")


def _row(cur: Section, tokens: list[str], no: int) -> dict:
    cols = _columns(cur, tokens, no)
    if len(tokens) != len(cols):
        cut = "cut short" if len(tokens) < len(cols) else "longer than the header"
        raise RaxError(f"{cur.file} line {no}: result row {cut} ({len(tokens)} of {len(cols)} columns: "
                       f"{' '.join(cols)}); a truncated log?", field="FILE")
    first = cols.index("time")
    head = dict(zip(cols[:first], tokens[:first]))
    row = {"line": no, "size_bytes": _int(head.get("size"), cur, no, "size"),
           "count": _int(head.get("count"), cur, no, "count"), "type": head.get("type"),
           "redop": head.get("redop"), "root": head.get("root"), "groups": []}
    for g in range(first, len(cols), 4):
        t, a, b, w = tokens[g:g + 4]
        row["groups"].append({"time_us": _num(t, cur, no, "time"), "algbw_GBps": _num(a, cur, no, "algbw"),
                              "busbw_GBps": _num(b, cur, no, "busbw"), **_wrong(w, cols[g + 3])})
    return row


def _wrong(text: str, column: str) -> dict:
    """`#wrong`: a count, or N/A without validation; older releases' `error`: the max error."""
    if text.upper() == "N/A":
        return {"wrong": None, "max_error": None}
    if column == "#wrong" and text.isdigit():
        return {"wrong": int(text), "max_error": None}
    return {"wrong": None, "max_error": _float(text)}


def _int(text, cur, no, what) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        raise RaxError(f"{cur.file} line {no}: {what} {text!r} is not an integer", field="FILE") from None


def _num(text, cur, no, what) -> float:
    v = _float(text)
    if v is None:
        raise RaxError(f"{cur.file} line {no}: {what} {text!r} is not a number", field="FILE")
    return v


def _float(text) -> float | None:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def _finish(s: Section, stated: str | None, last_line: int) -> None:
    if not s.rows:
        return
    if s.avg_busbw_GBps is None:
        raise RaxError(f"{s.file} line {last_line}: the log ends before `# Avg bus bandwidth` (the run starting at "
                       f"line {s.line} was cut short; the last row read is line {s.rows[-1]['line']})", field="FILE")
    if stated:
        if stated not in COLLECTIVES:
            raise RaxError(f"unknown collective {stated!r}; known: {', '.join(COLLECTIVES)}", field="--collective")
        s.collective = s.collective or stated
        if s.collective != stated:
            raise RaxError(f"{s.file} line {s.line}: the log is {s.collective}, not --collective {stated}",
                           field="--collective")


def ratio(s: Section) -> tuple[float, int] | None:
    """Median busbw/algbw of the rows precise enough to tell (algbw >= 1 GB/s), and the line of one."""
    pairs = [(g["busbw_GBps"] / g["algbw_GBps"], r["line"]) for r in s.rows for g in r["groups"][:1]
             if g["algbw_GBps"] >= 1.0]
    if not pairs:
        return None
    pairs.sort()
    return pairs[len(pairs) // 2]


def resolve(s: Section, ranks: int | None) -> tuple[str, int]:
    """(collective, ranks) of a section, checked against its printed bus factor."""
    n = s.ranks or ranks
    r = ratio(s)
    coll = s.collective
    if coll is None:
        raise RaxError(f"{s.file} line {s.line}: which collective is this? The file does not name its nccl-tests "
                       f"binary; give --collective ({', '.join(COLLECTIVES)})", field="--collective")
    if n is None and r is not None:
        n = _ranks_from_factor(coll, r[0])
    if n is None:
        raise RaxError(f"{s.file} line {s.line}: how many ranks? No `# Rank N ...` lines and no row fast enough to "
                       "read the bus factor; give --ranks", field="--ranks")
    if r is not None and abs(r[0] / busbw_factor(coll, n) - 1) > RATIO_TOLERANCE:
        raise RaxError(f"{s.file} line {r[1]}: busbw/algbw = {r[0]:.3f}, but {coll} over {n} ranks has the bus factor "
                       f"{busbw_factor(coll, n):.3f} (nccl-tests PERFORMANCE.md); wrong --collective or --ranks?",
                       field="FILE")
    return coll, n


def _ranks_from_factor(coll: str, f: float) -> int | None:
    if coll == "all_reduce" and f < 2:
        return max(round(2 / (2 - f)), 1)
    if coll in ("all_gather", "reduce_scatter", "all_to_all") and f < 1:
        return max(round(1 / (1 - f)), 1)
    return None


def to_rows(s: Section, coll: str, ranks: int, transport: str) -> list[dict]:
    """Result rows in the shape `rax bench comm` stores (measure/comm/bench.py make_row)."""
    out = []
    failed = s.bounds is not None and s.bounds[1] == "FAILED"
    for r in s.rows:
        groups = r["groups"]
        use = 1 if coll in IN_PLACE and len(groups) > 1 else 0
        g = groups[use]
        wrong = g["wrong"]
        correct = None if wrong is None else wrong == 0
        if wrong is None and failed and g["max_error"] is not None:
            correct = g["max_error"] == 0
        dtype = TYPES.get(r["type"], r["type"])
        out.append({
            "collective": coll, "size_bytes": r["size_bytes"], "count": r["count"], "dtype": dtype, "type": r["type"],
            "ranks": ranks, "transport": transport, "requested_bytes": r["size_bytes"], "time_us": g["time_us"],
            "algbw_GBps": g["algbw_GBps"], "busbw_GBps": g["busbw_GBps"], "busbw_factor": busbw_factor(coll, ranks),
            "correct": correct, "wrong": wrong, "max_error": g["max_error"],
            "placement": "in-place" if use else "out-of-place", "redop": r["redop"], "root": r["root"],
            "other_placement": groups[1 - use] if len(groups) > 1 else None,
            "source": {"file": s.file, "line": r["line"]}})
    return out
