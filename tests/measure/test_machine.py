"""Machine facts (`rax doctor` and every fingerprint): nvidia-smi output, sysfs RDMA ports and NIC
rates read from fixtures in their documented formats, and the doctor's verdicts on this host."""

import json

from raxlab.cli.main import main
from raxlab.measure import machine

SMI = """0, NVIDIA H100 80GB HBM3, GPU-5f6e1c2a-0d3b-4c1e-9a7b-1d2e3f405162, 81559, 1980, 1980, 2619, 700.00, 700.00, Enabled, Disabled, 5, 16, 550.54.15
1, NVIDIA H100 80GB HBM3, GPU-7a8b9c0d-1e2f-4a5b-8c9d-0e1f2a3b4c5d, 81559, 345, 1980, 2619, 500.00, 700.00, Enabled, [N/A], 5, 16, 550.54.15
"""
TOPO = """\tGPU0\tGPU1\tNIC0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID
GPU0\t X \tNV18\tPIX\t0-55\t0\t\tN/A
GPU1\tNV18\t X \tNODE\t0-55\t0\t\tN/A
NIC0\tPIX\tNODE\t X

Legend:

  X    = Self
  NV#  = Connection traversing a bonded set of # NVLinks
"""


def test_nvidia_smi_query_rows():
    a, b = machine.parse_smi_csv(SMI)
    assert a["name"] == "NVIDIA H100 80GB HBM3" and a["mem_bytes"] == 81559 * 2**20
    assert a["clocks_mhz"] == {"sm": 1980, "sm_max": 1980, "mem_max": 2619} and a["power_limit_w"] == 700.0
    assert a["ecc"] == "enabled" and a["mig"] == "disabled" and a["pcie"] == {"gen": 5, "width": 16}
    assert b["power_limit_w"] == 500.0 and b["mig"] is None  # a lowered cap; [N/A] is unknown, not a value


def test_nvidia_smi_topology_matrix():
    assert machine.parse_topo(TOPO)["matrix"] == [["X", "NV18"], ["NV18", "X"]]


def test_rdma_ports_and_nic_rates_from_sysfs(tmp_path, monkeypatch):
    ib = tmp_path / "infiniband"
    for dev, layer, state in (("mlx5_0", "InfiniBand", "4: ACTIVE"), ("mlx5_1", "Ethernet", "1: DOWN")):
        port = ib / dev / "ports" / "1"
        port.mkdir(parents=True)
        (port / "rate").write_text("400 Gb/sec (4X NDR)\n")
        (port / "state").write_text(state + "\n")
        (port / "link_layer").write_text(layer + "\n")
    net = tmp_path / "net"
    for name, speed in (("eth0", "100000"), ("veth1", "-1")):
        (net / name).mkdir(parents=True)
        (net / name / "speed").write_text(speed + "\n")
    (net / "eth0" / "device").mkdir()
    monkeypatch.setattr(machine, "SYS_IB", ib)
    monkeypatch.setattr(machine, "SYS_NET", net)
    ports = machine.rdma_ports()
    assert [(p["device"], p["kind"], p["rate_gbit_s"]) for p in ports] == [("mlx5_0", "ib", 400.0),
                                                                         ("mlx5_1", "roce", 400.0)]
    nics = {n["name"]: n for n in machine.nics()}
    assert nics["eth0"]["speed_mbit_s"] == 100000 and not nics["eth0"]["virtual"]
    assert nics["veth1"]["speed_mbit_s"] is None and nics["veth1"]["virtual"]
    from raxlab.measure.doctor import _fabric_verdicts

    ib_v, roce_v, tcp_v = _fabric_verdicts(ports, machine.nics())
    assert ib_v["can"] and "mlx5_0/1 400 Gb/sec" in ib_v["why"]
    assert not roce_v["can"] and "none ACTIVE" in roce_v["why"]  # the RoCE port is down
    assert tcp_v["can"] and "eth0 100 Gb/s" in tcp_v["why"]


def test_store_file_system(tmp_path):
    fs = machine.filesystem(tmp_path / "not-yet" / "rax.db")
    assert fs["free_bytes"] > 0 and fs["type"] and fs["writable"]


def test_doctor_on_this_machine(capsys):
    assert main(["doctor", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert all(v["why"] for v in d["verdicts"]) and d["verdicts"][0]["can"] is True
    gpu = next(v for v in d["verdicts"] if v["what"].startswith("compute, kernels and memory on GPUs"))
    if not d["software"]["cuda_available"]:
        assert not gpu["can"] and ("CPU-only build" in gpu["why"] or "sees no GPU" in gpu["why"])
    if not d["gpus"]["devices"]:
        assert d["gpus"]["why"]


def test_every_fingerprint_records_the_same_facts():
    from raxlab.measure.fingerprint import fingerprint

    fp = fingerprint()
    assert set(machine.facts()) <= set(fp)
    assert fp["gpu_source"] in (None, "nvml", "nvidia-smi") and isinstance(fp["nics"], list)
