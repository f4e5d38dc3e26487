"""Shared pieces of the `rax catalog` commands: the override flag, kind names, tables.

`add_catalog_override(parser)` and `load(args)` are meant for any command that reads the
catalogue (plan, predict), so every command takes `--catalog-override FILE` the same way.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

from raxlab import fmt
from raxlab.errors import unknown_name

MARK_ESTIMATE, MARK_OVERRIDE = "~", "*"
LEGEND = f"{MARK_ESTIMATE} estimate (no public source; see `rax catalog show NAME`)   {MARK_OVERRIDE} your override"


def add_catalog_override(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog-override", metavar="FILE", default=None,
        help="YAML file of your own quotes and parts, merged over the built-in catalogue "
             "(default: $RAX_CATALOG_OVERRIDE, else ~/.config/raxlab/catalog-override.yaml if it "
             "exists; 'none' to use the built-in data only)",
    )


def load(args: argparse.Namespace):
    from raxlab.catalog import load_catalog

    ov = getattr(args, "catalog_override", None)
    return load_catalog(False if ov == "none" else ov)


def resolve_kind(kind: str) -> str:
    from raxlab.catalog import KINDS, SECTIONS

    if kind in KINDS:
        return kind
    if kind in SECTIONS:
        return SECTIONS[kind]
    raise unknown_name("catalogue kind", kind, list(KINDS), field="KIND")


def cell(entry, field: str, digits: int = 4) -> str:
    """A number in file units, marked when it is an estimate or an override; '-' if absent."""
    if not entry.has(field):
        return "-"
    p = entry.provenance(field)
    text = num(p.value, digits)
    if p.low is not None or p.high is not None:
        lo, hi = (p.value if x is None else x for x in (p.low, p.high))
        text += f" ({num(lo, digits)}-{num(hi, digits)})"
    return (MARK_ESTIMATE if p.is_estimate else "") + text + (MARK_OVERRIDE if p.override else "")


def num(v: float, digits: int = 4) -> str:
    """Whole numbers with thousands separators (prices, watts), others to `digits` digits."""
    if v == int(v) and abs(v) < 1e12:
        return f"{int(v):,}"  # a catalogue figure as its source gives it
    return fmt.g(v, digits)


def _yes(v: bool) -> str:
    return "yes" if v else "no"


# Columns of `rax catalog list` per kind: (header, function of the entry).
COLUMNS: dict[str, list[tuple[str, Callable[[Any], str]]]] = {
    "accelerator": [
        ("name", lambda e: e.name), ("vendor", lambda e: e.spec.vendor),
        ("bf16 TF/s", lambda e: cell(e, "bf16_tflops")), ("fp8 TF/s", lambda e: cell(e, "fp8_tflops")),
        ("mem GiB", lambda e: cell(e, "mem_gib")), ("mem TB/s", lambda e: cell(e, "mem_bw_tbyte_s")),
        ("scale-up GB/s", lambda e: f"{cell(e, 'scaleup_bw_gbyte_s')} {e.spec.scaleup_link}"),
        ("TDP W", lambda e: cell(e, "tdp_w")), ("price USD", lambda e: cell(e, "price_usd", 6)),
    ],
    "server": [
        ("name", lambda e: e.name),
        ("accelerators", lambda e: ", ".join(e.spec.accelerators) or f"any {e.spec.accepts_form_factor}"),
        ("GPUs", lambda e: cell(e, "gpus_per_node")), ("scale-up", lambda e: e.spec.scaleup_topology),
        ("NIC slots", lambda e: cell(e, "nic_slots")), ("CPU cores", lambda e: cell(e, "cpu_cores")),
        ("power W", lambda e: cell(e, "power_w")), ("price USD", lambda e: cell(e, "price_usd", 6)),
        ("no-GPU USD", lambda e: cell(e, "price_no_gpu_usd", 6)),
    ],
    "nic": [
        ("name", lambda e: e.name), ("protocols", lambda e: ", ".join(e.spec.protocols)),
        ("ports x Gb/s", lambda e: f"{cell(e, 'ports')} x {cell(e, 'port_rate_gbit_s')}"),
        ("RDMA", lambda e: _yes(e.spec.rdma)), ("GPUDirect", lambda e: _yes(e.spec.gpudirect_rdma)),
        ("PCIe", lambda e: f"{cell(e, 'pcie_gen')} x{cell(e, 'pcie_lanes')}" if e.has("pcie_gen") else "on-chip"),
        ("price USD", lambda e: cell(e, "price_usd", 6)),
    ],
    "fabric": [
        ("name", lambda e: e.name), ("transport", lambda e: e.spec.transport),
        ("line Gb/s", lambda e: cell(e, "line_rate_gbit_s")),
        ("NCCL fraction", lambda e: cell(e, "effective_fraction", 2)),
        ("alpha us", lambda e: cell(e, "latency_us", 3)), ("GDR", lambda e: _yes(e.gdr)),
        ("CPU cores/(GB/s)", lambda e: cell(e, "cpu_cores_per_gbyte_s", 2)),
        ("NIC / switch", lambda e: f"{e.spec.nics[0]} / {e.spec.switches[0]}"),
    ],
    "switch": [
        ("name", lambda e: e.name), ("family", lambda e: e.spec.family),
        ("ports x Gb/s", lambda e: f"{cell(e, 'ports')} x {cell(e, 'port_speed_gbit_s')}"),
        ("latency ns", lambda e: cell(e, "latency_ns")), ("power W", lambda e: cell(e, "power_w")),
        ("price USD", lambda e: cell(e, "price_usd", 6)),
    ],
    "cable": [
        ("name", lambda e: e.name), ("medium", lambda e: e.spec.medium),
        ("Gb/s", lambda e: cell(e, "speed_gbit_s")), ("reach m", lambda e: cell(e, "reach_m")),
        ("power W", lambda e: cell(e, "power_w")), ("price USD/link", lambda e: cell(e, "price_usd")),
    ],
    "storage": [
        ("name", lambda e: e.name), ("medium", lambda e: e.spec.medium), ("shared", lambda e: _yes(e.spec.shared)),
        ("read GB/s/node", lambda e: cell(e, "read_gbyte_s_per_node")),
        ("USD/TB", lambda e: cell(e, "price_usd_per_tb")),
    ],
}


def summary(entry) -> dict:
    """Compact JSON of one entry for `list`: plain fields and numbers in file units."""
    spec = entry.spec
    skip = {"source", "estimate", "as_of", "notes", *spec.q_fields()}
    out = spec.model_dump(mode="json", exclude=skip, exclude_none=True)
    nums = entry.numbers()
    out.update({f: p.value for f, p in nums.items()})
    out["estimated"] = sorted(f for f, p in nums.items() if p.is_estimate)
    out["overridden"] = sorted(entry.overridden_fields)
    return out


def console():
    """Rich console; wide when not a terminal so piped tables do not fold every cell."""
    from raxlab.textsafe import safe_console

    con = safe_console()
    return con if con.is_terminal else safe_console(width=160)
