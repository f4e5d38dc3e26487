"""Units of catalogue fields: the unit is the suffix of the field name.

Data files use the units datasheets use (TFLOP/s, GiB, TB/s, Gb/s, µs); Python objects use SI
(FLOP/s, bytes, B/s, seconds). This table is the only place the two meet, so a conversion is
written once. Decimal prefixes for rates (GB/s = 1e9 B/s, as nccl-tests and datasheets use),
binary for memory capacity (GPU "80 GB" HBM is 5 stacks x 16 GiB = 80 GiB).

Byte rates and bit rates get different suffixes on purpose: `_gbyte_s` (GB/s) for memory and
NVLink, `_gbit_s` (Gb/s) for network line rates. `gbps` is not accepted because it is read
both ways in the wild.
"""

from __future__ import annotations

# suffix -> (factor to SI, SI unit, unit as written in the file). Longest suffix wins.
SUFFIXES: dict[str, tuple[float, str, str]] = {
    "_tflops": (1e12, "FLOP/s", "TFLOP/s"),
    "_tops": (1e12, "op/s", "TOP/s"),
    "_gib": (2.0**30, "B", "GiB"),
    "_tbyte_s": (1e12, "B/s", "TB/s"),
    "_gbyte_s": (1e9, "B/s", "GB/s"),
    "_gbyte_s_per_node": (1e9, "B/s", "GB/s per node"),
    "_gbit_s": (1e9 / 8, "B/s", "Gb/s"),
    "_tbit_s": (1e12 / 8, "B/s", "Tb/s"),
    "_cores_per_gbyte_s": (1e-9, "cores per B/s", "cores per GB/s"),
    "_us": (1e-6, "s", "µs"),
    "_ns": (1e-9, "s", "ns"),
    "_w": (1.0, "W", "W"),
    "_usd": (1.0, "USD", "USD"),
    "_usd_per_tb": (1e-12, "USD/B", "USD/TB"),
    "_usd_per_hr": (1.0 / 3600, "USD/s", "USD/h"),
    "_m": (1.0, "m", "m"),
    "_fraction": (1.0, "", "fraction"),
    "_ratio": (1.0, "", "ratio"),
    "_engineer_weeks": (1.0, "engineer-weeks", "engineer-weeks"),  # labour, priced by the planner's rate
}

# Dimensionless counts: no suffix, must be whole numbers.
COUNTS = frozenset({
    "gpus_per_node", "hosts_per_node", "ports", "nic_slots", "nics_included", "pcie_lanes", "pcie_gen",
    "cpu_cores", "lanes", "scaleup_links", "max_split", "rack_units",
})

# Physical range of every number, in file units: (lowest, highest, lowest allowed itself?).
# A zero where the code divides (a peak, a bandwidth, a line rate, a count of GPUs) never passes:
# rates and capacities are > 0; prices, cable power, included NICs may be 0. Highs sit 10-100x
# above any part made so far (B200 FP4 9 PFLOP/s dense, 8 TB/s HBM, 1.6 Tb/s ports, 144-port
# switches), so only typos and unit slips (W for kW, Gb/s for Tb/s) hit them.
RANGES_BY_SUFFIX: dict[str, tuple[float, float, bool]] = {
    "_tflops": (0, 1e5, False), "_tops": (0, 1e5, False), "_gib": (0, 2**20, False),
    "_tbyte_s": (0, 100, False), "_gbyte_s": (0, 1e5, False), "_gbyte_s_per_node": (0, 1e5, False),
    "_gbit_s": (0, 1e5, False), "_tbit_s": (0, 1e4, False), "_cores_per_gbyte_s": (0, 100, True),
    "_us": (0, 1e4, False), "_ns": (0, 1e7, False), "_w": (0, 1e6, True), "_usd": (0, 1e9, True),
    "_usd_per_tb": (0, 1e6, True), "_usd_per_hr": (0, 1e5, True), "_m": (0, 1e5, False),
    "_fraction": (0, 1, False), "_ratio": (0, 1e3, False),
}
RANGES: dict[str, tuple[float, float, bool]] = {
    "mem_gib": (0, 1e4, False), "mem_bw_tbyte_s": (0, 100, False), "tdp_w": (0, 5e4, False),
    "max_gpu_tdp_w": (0, 5e4, False),
    "gpus_per_node": (1, 1024, True), "ports": (1, 65536, True), "nic_slots": (1, 256, True),
    "nics_included": (0, 256, True), "pcie_lanes": (1, 1024, True), "pcie_gen": (3, 6, True),
    "cpu_cores": (1, 100_000, True), "lanes": (1, 64, True), "scaleup_links": (1, 1024, True),
    "max_split": (1, 64, True), "rack_units": (1, 100, True),
}


def value_range(field: str) -> tuple[float, float, bool] | None:
    """(lowest, highest, lowest included) for `field` in file units, or None if it has none."""
    if field in RANGES:
        return RANGES[field]
    suf = suffix_of(field)
    return None if suf is None else RANGES_BY_SUFFIX.get(suf)


def range_text(field: str) -> str:
    lo, hi, inclusive = value_range(field)
    unit = file_unit(field)
    return f"{'from' if inclusive else 'above'} {lo:g} to {hi:g}{' ' + unit if unit else ''}"


# Usable PCIe bandwidth per lane per direction in GB/s after line coding:
# Gen3 8 GT/s and Gen4 16 GT/s and Gen5 32 GT/s with 128b/130b (PCI-SIG base specs), Gen6
# 64 GT/s PAM4 with FLIT mode (~7.56 GB/s). catalog-facts §2 (S2) rounds x16 to 31 (Gen4) and
# 63 (Gen5) GB/s per direction, which these reproduce.
PCIE_GBYTE_S_PER_LANE = {3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563}


def suffix_of(field: str) -> str | None:
    """The unit suffix of a field name, or None for counts and unknown names."""
    best = None
    for suf in SUFFIXES:
        if field.endswith(suf) and (best is None or len(suf) > len(best)):
            best = suf
    return best


def is_numeric_name(field: str) -> bool:
    return field in COUNTS or suffix_of(field) is not None


def to_si(field: str, value: float) -> float:
    """Convert a value of `field` from file units to SI (counts are returned as they are)."""
    suf = suffix_of(field)
    return value if suf is None else value * SUFFIXES[suf][0]


def file_unit(field: str) -> str:
    suf = suffix_of(field)
    return "" if suf is None else SUFFIXES[suf][2]


def si_unit(field: str) -> str:
    suf = suffix_of(field)
    return "" if suf is None else SUFFIXES[suf][1]


def pcie_Bps(gen: int, lanes: int) -> float:
    """Usable one-direction PCIe bandwidth in B/s for a link of `lanes` lanes."""
    from raxlab.errors import RaxError

    if gen not in PCIE_GBYTE_S_PER_LANE:
        raise RaxError(f"unknown PCIe generation {gen}; known: {sorted(PCIE_GBYTE_S_PER_LANE)}",
                       field="pcie_gen")
    return PCIE_GBYTE_S_PER_LANE[gen] * 1e9 * lanes
