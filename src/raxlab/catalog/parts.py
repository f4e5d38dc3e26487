"""Typed parts with SI attributes: what the projection and planner layers call.

Attributes ending in `_Bps` are bytes/s, `_bytes` bytes, `_s` seconds, `_w` watts, `_usd`
US dollars; `peak_flops` is FLOP/s. Nothing here knows a specific SKU: the numbers live in
`data/*.yaml`. Other spec fields read through (`acc.form_factor`, `fabric.nics`).
"""

from __future__ import annotations

from typing import ClassVar

from raxlab.catalog import specs, units
from raxlab.catalog.schema import Entry
from raxlab.errors import RaxError

DTYPES: tuple[str, ...] = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "fp4", "int8")
DTYPE_FIELD = {d: f"{d}_tflops" for d in DTYPES} | {"int8": "int8_tops"}  # int8 is TOP/s


class Accelerator(Entry):
    KIND = "accelerator"
    SPEC = specs.AcceleratorSpec

    @property
    def dtypes(self) -> tuple[str, ...]:
        """Precisions with a dense peak in the catalogue."""
        return tuple(d for d in DTYPES if self.has(DTYPE_FIELD[d]))

    def peak_flops(self, dtype: str) -> float:
        """Dense peak in FLOP/s (op/s for int8); RaxError if the part lacks the precision."""
        if dtype not in DTYPE_FIELD:
            raise RaxError(f"unknown precision {dtype!r}; known: {', '.join(DTYPES)}", field="dtype")
        if dtype in self.spec.unsupported:
            raise RaxError(f"unsupported precision {dtype} on {self.name}: the hardware has no "
                           f"{dtype} support; supported: {', '.join(self.dtypes)}", field="dtype")
        if not self.has(DTYPE_FIELD[dtype]):
            raise RaxError(f"no {dtype} peak in the catalogue for {self.name} (not published or "
                           f"not recorded); recorded: {', '.join(self.dtypes)}", field="dtype")
        return self.si(DTYPE_FIELD[dtype])

    def mamf_flops(self, dtype: str) -> float | None:
        """Published maximum achievable matmul FLOP/s (a calibration prior), or None."""
        f = f"mamf_{dtype}_tflops"
        return self._si.get(f)

    @property
    def mem_bytes(self) -> float:
        return self.si("mem_gib")

    @property
    def mem_bw_Bps(self) -> float:
        return self.si("mem_bw_tbyte_s")

    @property
    def scaleup_bw_Bps(self) -> float:
        """Scale-up bandwidth per GPU, one direction (NVLink/xGMI/on-chip; PCIe for cards)."""
        return self.si("scaleup_bw_gbyte_s")

    @property
    def host_link_Bps(self) -> float:
        """PCIe host link, one direction."""
        return units.pcie_Bps(int(self.si("pcie_gen")), int(self.si("pcie_lanes")))

    @property
    def tdp_w(self) -> float:
        return self.si("tdp_w")

    @property
    def price_usd(self) -> float:
        return self._price("price_usd")


class Server(Entry):
    KIND = "server"
    SPEC = specs.ServerSpec
    REFS: ClassVar[dict[str, str]] = {"accelerators": "accelerator", "compute_nic": "nic"}

    def fits(self, acc: Accelerator) -> bool:
        """Whether `acc` can populate this server."""
        if self.spec.accelerators:
            return acc.name in self.spec.accelerators
        if acc.spec.form_factor != self.spec.accepts_form_factor:
            return False
        if self.spec.scaleup_topology == "nvlink-bridge-pairs" and not acc.has("nvlink_bridge_bw_gbyte_s"):
            return False
        return not self.has("max_gpu_tdp_w") or acc.tdp_w <= self.si("max_gpu_tdp_w")

    @property
    def gpus_per_node(self) -> int:
        """GPUs in one scale-up domain, the projection's "node" (GB200 NVL72: the 72-GPU rack)."""
        return int(self.si("gpus_per_node"))

    @property
    def hosts_per_node(self) -> int:
        """Operating-system hosts in one node (GB200 NVL72: 18 compute trays); 1 for a server."""
        return int(self.si("hosts_per_node")) if self.has("hosts_per_node") else 1

    @property
    def gpus_per_host(self) -> int:
        """GPUs one host drives: the processes per host a launcher starts (torchrun --nproc-per-node)."""
        return self.gpus_per_node // self.hosts_per_node

    @property
    def nic_slots(self) -> int:
        return int(self.si("nic_slots"))

    @property
    def nics_included(self) -> int:
        return int(self.si("nics_included"))

    @property
    def host_mem_bytes(self) -> float:
        return self.si("host_mem_gib")

    @property
    def power_w(self) -> float:
        return self.si("power_w")

    @property
    def price_no_gpu_usd(self) -> float:
        return self._price("price_no_gpu_usd")

    def node_price_usd(self, acc: Accelerator) -> float:
        """One node populated with `acc`: the bundle price when the catalogue has one for this
        accelerator, else the server without GPUs + gpus_per_node x the accelerator's price.
        A user's override of the accelerator price wins over a built-in bundle price."""
        if not self.fits(acc):
            raise RaxError(f"{acc.name} does not fit server {self.name}", field="accelerator")
        bundle = self.has("price_usd") and acc.name in self.spec.accelerators
        user_gpu_price = acc.has("price_usd") and acc.provenance("price_usd").override
        if bundle and (self.provenance("price_usd").override or not user_gpu_price):
            return self.si("price_usd")
        return self.price_no_gpu_usd + self.gpus_per_node * acc.price_usd

    def scaleup_bw_Bps(self, acc: Accelerator) -> float:
        """Per-GPU one-direction bandwidth inside the node for this server's topology
        (NVLink bridges: within a pair only; PCIe: the slower of card and slot)."""
        topo = self.spec.scaleup_topology
        if topo == "pcie":
            return min(acc.host_link_Bps, units.pcie_Bps(int(self.si("pcie_gen")), 16))
        if topo == "nvlink-bridge-pairs":
            return acc.si("nvlink_bridge_bw_gbyte_s")
        return acc.scaleup_bw_Bps


class Nic(Entry):
    KIND = "nic"
    SPEC = specs.NicSpec

    @property
    def port_rate_Bps(self) -> float:
        return self.si("port_rate_gbit_s")

    @property
    def ports(self) -> int:
        return int(self.si("ports"))

    @property
    def price_usd(self) -> float:
        return self._price("price_usd")


class Fabric(Entry):
    KIND = "fabric"
    SPEC = specs.FabricSpec
    REFS: ClassVar[dict[str, str]] = {"nics": "nic", "switches": "switch",
                                      "cable_short": "cable", "cable_long": "cable"}

    @property
    def line_rate_Bps(self) -> float:
        return self.si("line_rate_gbit_s")

    @property
    def line_rate_gbit_s(self) -> float:
        return self.value("line_rate_gbit_s")

    @property
    def effective_fraction(self) -> float:
        return self.si("effective_fraction")

    @property
    def effective_Bps(self) -> float:
        """Expected NCCL bus bandwidth per rail: line rate x effective fraction."""
        return self.line_rate_Bps * self.effective_fraction

    @property
    def latency_s(self) -> float:
        return self.si("latency_us")

    @property
    def gdr(self) -> bool:
        return self.spec.gpudirect_rdma

    @property
    def rdma(self) -> bool:
        return self.spec.transport == "rdma"

    @property
    def cpu_cores_per_Bps(self) -> float:
        return self.si("cpu_cores_per_gbyte_s")


class Switch(Entry):
    KIND = "switch"
    SPEC = specs.SwitchSpec

    @property
    def ports(self) -> int:
        return int(self.si("ports"))

    @property
    def port_rate_Bps(self) -> float:
        return self.si("port_speed_gbit_s")

    def radix_at(self, line_rate_gbit_s: float) -> int:
        """Ports available at `line_rate_gbit_s` (native, or split); RaxError if impossible."""
        native = self.value("port_speed_gbit_s")
        split = native / line_rate_gbit_s
        max_split = int(self.si("max_split")) if self.has("max_split") else 1
        if abs(split - round(split)) > 1e-9 or not 1 <= round(split) <= max_split:
            raise RaxError(f"switch {self.name} ({native:g} Gb/s ports, split up to {max_split}) "
                           f"cannot serve {line_rate_gbit_s:g} Gb/s links", field="switch")
        return self.ports * int(round(split))

    @property
    def latency_s(self) -> float:
        return self.si("latency_ns")

    @property
    def power_w(self) -> float:
        return self.si("power_w")

    @property
    def price_usd(self) -> float:
        return self._price("price_usd")


class Cable(Entry):
    KIND = "cable"
    SPEC = specs.CableSpec

    @property
    def reach_m(self) -> float:
        return self.si("reach_m")

    @property
    def power_w(self) -> float:
        return self.si("power_w")

    @property
    def price_usd(self) -> float:
        return self._price("price_usd")


class Storage(Entry):
    KIND = "storage"
    SPEC = specs.StorageSpec

    @property
    def read_Bps_per_node(self) -> float:
        return self.si("read_gbyte_s_per_node")

    @property
    def price_usd_per_byte(self) -> float:
        return self.si("price_usd_per_tb")


KINDS: dict[str, type[Entry]] = {c.KIND: c for c in
                                 (Accelerator, Server, Nic, Fabric, Switch, Cable, Storage)}
# Section names in data files (plural, as people write them) -> kind.
SECTIONS: dict[str, str] = {"accelerators": "accelerator", "servers": "server", "nics": "nic",
                            "fabrics": "fabric", "switches": "switch", "cables": "cable",
                            "storage": "storage"}
