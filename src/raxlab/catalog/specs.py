"""File shapes of each kind of part (strict pydantic models; units in the field names).

Numbers are `Q` (value + provenance). Optional numbers may be left out: the part then has no
catalogue value for them, and asking for one is a clear error, never a fallback.
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from raxlab.catalog.schema import Q, Spec

Dtype = Literal["fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "fp4", "int8"]
# superchip: GPUs on one board with a Grace CPU (GB200/GB300), host link NVLink-C2C, sold only
# as NVIDIA's rack or tray designs; no server of another form factor takes them.
FormFactor = Literal["sxm", "oam", "pcie", "superchip"]
ScaleupTopology = Literal["nvswitch", "nvlink-bridge-pairs", "pcie", "xgmi", "on-chip-roce"]


class AcceleratorSpec(Spec):
    """Peaks are dense (no 2:4 sparsity); vendors' headline figures are often sparse (2x)."""

    vendor: str
    form_factor: FormFactor
    memory_type: str
    device_names: tuple[str, ...] = ()  # as torch.cuda.get_device_name / nvidia-smi report them
    fp64_tflops: Q | None = None  # FP64 tensor-core (matrix) peak where the part has one
    fp32_tflops: Q | None = None  # FP32 without tensor cores
    tf32_tflops: Q | None = None
    bf16_tflops: Q | None = None
    fp16_tflops: Q | None = None
    fp8_tflops: Q | None = None
    fp4_tflops: Q | None = None
    int8_tops: Q | None = None
    unsupported: tuple[Dtype, ...] = ()  # precisions the hardware lacks (not just unrecorded)
    mem_gib: Q
    mem_bw_tbyte_s: Q
    scaleup_link: Literal["nvlink3", "nvlink4", "nvlink5", "xgmi", "on-chip-roce", "pcie"]
    scaleup_links: Q | None = None
    scaleup_link_bw_gbyte_s: Q | None = None  # one link, one direction
    scaleup_bw_gbyte_s: Q  # per GPU, one direction (NVIDIA quotes both directions: 2x)
    nvlink_bridge_bw_gbyte_s: Q | None = None  # PCIe card with NVLink bridge, one direction
    pcie_gen: Q
    pcie_lanes: Q
    tdp_w: Q
    price_usd: Q | None = None
    cloud_usd_per_hr: Q | None = None
    mamf_bf16_tflops: Q | None = None  # measured maximum achievable matmul, a calibration prior
    mamf_fp8_tflops: Q | None = None


class ServerSpec(Spec):
    vendor: str
    accelerators: tuple[str, ...] = ()  # empty: any card of `accepts_form_factor` that fits
    accepts_form_factor: FormFactor
    gpus_per_node: Q  # the scale-up domain: GPUs on one NVLink/xGMI fabric (TP/EP stay inside it)
    hosts_per_node: Q | None = None  # OS hosts in that domain (GB200 NVL72: 18 trays); absent = 1
    scaleup_topology: ScaleupTopology
    max_gpu_tdp_w: Q | None = None
    pcie_gen: Q
    pcie_lanes: Q | None = None  # CPU PCIe lanes in total
    nic_slots: Q  # compute (east-west) NIC slots, all hosts of the node together
    nics_included: Q  # compute NICs included in the prices
    compute_nic: str | None = None
    cpu: str
    cpu_cores: Q  # all hosts of the node together
    host_mem_gib: Q  # all hosts of the node together
    power_w: Q  # system maximum (a rack-scale node: the whole rack with its NVLink switches)
    rack_units: Q | None = None  # chassis height (U), for rack-space caps
    # Which of the fabric's cables joins this node's NICs to their leaf switch: "short" (DAC, the
    # leaf beside the node) or "long" (optics: a full rack-scale node such as an NVL72 has no room
    # for a leaf, so every NIC runs to a leaf in another rack).
    node_leaf_link: Literal["short", "long"] = "short"
    price_usd: Q | None = None  # complete, with its named accelerators and included NICs
    price_no_gpu_usd: Q  # the same server without accelerators

    @model_validator(mode="after")
    def _hosts(self) -> "ServerSpec":
        if self.hosts_per_node is not None and self.hosts_per_node.value < 1:
            raise ValueError(f"hosts_per_node: a node has at least one host (got {self.hosts_per_node.value:g})")
        return self


class NicSpec(Spec):
    vendor: str
    protocols: tuple[Literal["infiniband", "ethernet"], ...]
    rdma: bool
    gpudirect_rdma: bool
    builtin: bool = False  # ports on the accelerator itself (Gaudi): no slot, no extra price
    ports: Q
    port_rate_gbit_s: Q
    pcie_gen: Q | None = None
    pcie_lanes: Q | None = None
    power_w: Q | None = None
    price_usd: Q | None = None


class FabricSpec(Spec):
    family: Literal["infiniband", "ethernet"]
    transport: Literal["rdma", "tcp"]
    gpudirect_rdma: bool
    lane_rate_gbit_s: Q | None = None
    lanes: Q | None = None
    line_rate_gbit_s: Q  # per port (rail)
    effective_fraction: Q  # NCCL busbw per rail / line rate, large messages
    latency_us: Q  # per-message alpha prior through NCCL for one network step
    cpu_cores_per_gbyte_s: Q  # host cores kept busy per GB/s moved
    # engineering to take the fabric from its defaults to its tuned load regime (RoCE: ECMP
    # entropy / QP scaling, congestion control, lossless config); None: nothing to tune
    tuning_engineer_weeks: Q | None = None
    nics: tuple[str, ...]  # first is the default
    switches: tuple[str, ...]
    cable_short: str  # node to leaf
    cable_long: str  # switch to switch


class SwitchSpec(Spec):
    vendor: str
    family: Literal["infiniband", "ethernet"]
    ports: Q
    port_speed_gbit_s: Q
    max_split: Q | None = None  # one port can run as this many ports at speed / max_split
    capacity_tbit_s: Q | None = None  # as the vendor states it
    capacity_counting: Literal["unidirectional", "bidirectional"] | None = None
    latency_ns: Q | None = None
    power_w: Q | None = None
    rack_units: Q | None = None
    price_usd: Q | None = None


class CableSpec(Spec):
    medium: Literal["dac", "aoc", "optics"]
    form_factor: str
    speed_gbit_s: Q
    reach_m: Q
    power_w: Q  # both ends together
    price_usd: Q | None = None  # the whole link: both ends (and fibre for optics)


class StorageSpec(Spec):
    medium: Literal["nvme", "hdd", "mixed"]
    shared: bool
    read_gbyte_s_per_node: Q
    write_gbyte_s_per_node: Q | None = None
    price_usd_per_tb: Q
