"""Consistency checks: derived numbers must agree with the stated ones.

Run by the tests (CI) and by `rax catalog validate`. Each check is generic (no SKU names):
it compares numbers an entry states twice, or numbers that physics or a standard ties
together, so a typo or a sparse figure slipping in as dense shows up.
"""

from __future__ import annotations

from typing import Callable, Iterator

from raxlab.catalog.parts import DTYPE_FIELD, Accelerator, Fabric, Server, Switch
from raxlab.errors import RaxError

REL_TOL = 0.02  # vendors round (e.g. 494.5 vs 989/2); 2 % catches real slips


def _close(a: float, b: float, tol: float = REL_TOL) -> bool:
    return abs(a - b) <= tol * max(abs(a), abs(b))


def _accelerator(acc: Accelerator) -> Iterator[str]:
    has = acc.has
    if has("bf16_tflops") and has("fp16_tflops") and not _close(acc.si("bf16_tflops"), acc.si("fp16_tflops")):
        yield "fp16_tflops: differs from bf16_tflops (tensor cores run both at one rate)"
    # Lower precision never has a lower dense peak than a higher one on the same part.
    order = [f for f in ("fp32_tflops", "tf32_tflops", "bf16_tflops", "fp8_tflops", "fp4_tflops") if has(f)]
    for hi, lo in zip(order, order[1:]):
        if acc.si(lo) < acc.si(hi) * (1 - REL_TOL):
            yield f"{lo}: below {hi}; a precision order slip"
    # A measured achievable matmul above the peak means the peak is wrong. Published MAMF is
    # 51-97 % of the dense peak (lowest: MI300X 51.4 %, catalog-facts §1a), so a sparse (2x)
    # headline entered as dense lands at 26-48 %: below 45 % is flagged.
    for dt in ("bf16", "fp8"):
        mamf = acc.mamf_flops(dt)
        if mamf is not None and has(DTYPE_FIELD[dt]):
            frac = mamf / acc.si(DTYPE_FIELD[dt])
            if not 0.45 <= frac <= 1.0:
                yield f"mamf_{dt}_tflops: {frac:.0%} of the {dt} peak (expected 45-100 %; sparse peak entered as dense?)"
    for dt in acc.spec.unsupported:
        if has(DTYPE_FIELD[dt]):
            yield f"{DTYPE_FIELD[dt]}: given for a precision listed as unsupported"
    if has("scaleup_links") and has("scaleup_link_bw_gbyte_s"):
        derived = acc.si("scaleup_links") * acc.si("scaleup_link_bw_gbyte_s")
        if not _close(derived, acc.scaleup_bw_Bps):
            yield "scaleup_bw_gbyte_s: not scaleup_links x scaleup_link_bw_gbyte_s"
    if acc.spec.scaleup_link == "pcie" and acc.scaleup_bw_Bps > acc.host_link_Bps * (1 + REL_TOL):
        yield "scaleup_bw_gbyte_s: above the PCIe host link of a PCIe-only part"


def _fabric(fab: Fabric, cat) -> Iterator[str]:
    if fab.has("lane_rate_gbit_s") and fab.has("lanes"):
        if not _close(fab.si("lane_rate_gbit_s") * fab.si("lanes"), fab.line_rate_Bps, 1e-9):
            yield "line_rate_gbit_s: not lanes x lane_rate_gbit_s"
    # measurement.md §8 plausibility bounds: RDMA below 85 % or TCP above 90 % is suspect.
    frac = fab.effective_fraction
    if fab.rdma and not 0.85 <= frac <= 1.0:
        yield f"effective_fraction: {frac:.2f} outside the RDMA bounds 0.85-1.0"
    if not fab.rdma and not 0 < frac <= 0.9:
        yield f"effective_fraction: {frac:.2f} outside the TCP bounds 0-0.9"
    if fab.gdr and not fab.rdma:
        yield "gpudirect_rdma: GPUDirect RDMA needs an RDMA transport"
    for name in fab.spec.nics:
        nic = cat.nic(name)
        if nic.port_rate_Bps < fab.line_rate_Bps:
            yield f"nics: {name} ports ({nic.value('port_rate_gbit_s'):g} Gb/s) slower than the line rate"
        if fab.rdma and not nic.spec.rdma:
            yield f"nics: {name} has no RDMA for an RDMA fabric"
        if fab.family not in nic.spec.protocols:
            yield f"nics: {name} does not speak {fab.family}"
    yield from _fabric_parts(fab, cat)


def _fabric_parts(fab: Fabric, cat) -> Iterator[str]:
    for name in fab.spec.switches:
        sw = cat.switch(name)
        if sw.spec.family != fab.family:
            yield f"switches: {name} is {sw.spec.family}, the fabric is {fab.family}"
        try:
            sw.radix_at(fab.line_rate_gbit_s)
        except RaxError as exc:
            yield f"switches: {exc}"
    for fld in ("cable_short", "cable_long"):
        cab = cat.cable(getattr(fab.spec, fld))
        if cab.value("speed_gbit_s") != fab.line_rate_gbit_s:
            yield f"{fld}: {cab.name} runs at {cab.value('speed_gbit_s'):g} Gb/s, not the line rate"


def _switch(sw: Switch) -> Iterator[str]:
    if sw.has("capacity_tbit_s"):
        per_dir = sw.si("ports") * sw.si("port_speed_gbit_s")
        factor = 2 if sw.spec.capacity_counting == "bidirectional" else 1
        if not _close(per_dir * factor, sw.si("capacity_tbit_s"), 1e-6):
            yield (f"capacity_tbit_s: not ports x port_speed_gbit_s"
                   f"{' x 2 (bidirectional)' if factor == 2 else ''}")
        if sw.spec.capacity_counting is None:
            yield "capacity_counting: say whether the capacity counts one or both directions"


def _server(srv: Server, cat) -> Iterator[str]:
    accs = [cat.accelerator(a) for a in srv.spec.accelerators]
    for acc in accs:
        if acc.spec.form_factor != srv.spec.accepts_form_factor:
            yield f"accelerators: {acc.name} is {acc.spec.form_factor}, server takes {srv.spec.accepts_form_factor}"
        if srv.gpus_per_node * acc.tdp_w >= srv.power_w:
            yield f"power_w: not above gpus_per_node x {acc.name} TDP"
    if srv.has("price_usd") and srv.si("price_usd") <= srv.price_no_gpu_usd:
        yield "price_usd: not above price_no_gpu_usd"
    if srv.nics_included > srv.nic_slots:
        yield "nics_included: more than nic_slots"
    if srv.gpus_per_node % srv.hosts_per_node:
        yield f"hosts_per_node: {srv.hosts_per_node} hosts cannot split {srv.gpus_per_node} GPUs evenly"
    if not accs and not any(srv.fits(a) for a in cat.all("accelerator")):
        yield "accepts_form_factor: no accelerator in the catalogue fits this server"


def consistency_issues(catalog) -> list[str]:
    """Every disagreement found, as 'kind name: field: message' lines (empty when clean)."""
    checks: dict[str, Callable] = {
        "accelerator": lambda e: _accelerator(e), "fabric": lambda e: _fabric(e, catalog),
        "switch": lambda e: _switch(e), "server": lambda e: _server(e, catalog),
    }
    issues = []
    for kind, check in checks.items():
        for entry in catalog.all(kind):
            issues += [f"{kind} {entry.name}: {msg}" for msg in check(entry)]
    return issues
