"""The Python API the projection and planner layers call: SI numbers, clear errors."""

import pytest

from raxlab.errors import RaxError


def test_accelerator_numbers_are_si(cat):
    h100 = cat.accelerator("h100-sxm")
    assert h100.peak_flops("bf16") == 989e12  # dense, not the 1979 "with sparsity" headline
    assert h100.peak_flops("fp8") == 1979e12
    assert h100.peak_flops("int8") == 1979e12  # op/s
    assert h100.mem_bytes == 80 * 2**30
    assert h100.mem_bw_Bps == pytest.approx(3.35e12)
    assert h100.scaleup_bw_Bps == 450e9  # one direction; NVIDIA's "900 GB/s" counts both
    assert h100.host_link_Bps == pytest.approx(16 * 3.938e9)
    assert h100.tdp_w == 700 and h100.price_usd == 30000
    assert h100.mamf_flops("bf16") == pytest.approx(794.5e12)
    assert cat.accelerator("l4").mamf_flops("bf16") is None


def test_unsupported_and_unrecorded_precisions_are_errors(cat):
    with pytest.raises(RaxError, match="unsupported precision fp8 on a100-sxm-80gb"):
        cat.accelerator("a100-sxm-80gb").peak_flops("fp8")
    with pytest.raises(RaxError, match="no fp64 peak in the catalogue for h200-sxm"):
        cat.accelerator("h200-sxm").peak_flops("fp64")
    with pytest.raises(RaxError, match="unknown precision 'fp12'"):
        cat.accelerator("h200-sxm").peak_flops("fp12")
    assert "fp8" not in cat.accelerator("a10").dtypes


def test_unknown_names_list_the_closest(cat):
    with pytest.raises(RaxError) as info:
        cat.accelerator("h100")
    assert "unknown accelerator 'h100'; did you mean h100-sxm, h100-pcie" in str(info.value)
    with pytest.raises(RaxError, match="unknown catalogue kind 'gpu'"):
        cat.get("gpu", "h100-sxm")
    assert cat.find("qm9700").KIND == "switch"
    assert cat.find("fabric/ib-ndr").name == "ib-ndr"
    with pytest.raises(RaxError, match="did you mean ib-ndr"):
        cat.find("ib-nd")


def test_provenance_of_each_field(cat):
    p = cat.accelerator("h100-sxm").provenance("price_usd")
    assert p.basis == "street" and "ai-battlefield" in p.source and p.label == "catalogue"
    assert not p.override and p.as_of == "2024-06-01" and (p.low, p.high) == (25000, 35000)
    e = cat.accelerator("b200-sxm").provenance("price_usd")
    assert e.is_estimate and e.label == "estimate" and e.basis == "estimate"
    assert cat.fabric("tcp-100").range_si("effective_fraction") == (0.35, 0.45, 0.6)
    d = cat.accelerator("mi300x").to_dict()
    assert d["kind"] == "accelerator" and d["numbers"]["bf16_tflops"]["si_value"] == 1300e12


def test_numbers_are_not_attributes_in_file_units(cat):
    with pytest.raises(AttributeError, match="use .si"):
        cat.accelerator("h100-sxm").mem_gib
    assert cat.accelerator("h100-sxm").si("mem_gib") == 80 * 2**30
    assert cat.accelerator("h100-sxm").form_factor == "sxm"  # plain fields read through


def test_fabric_priors(cat):
    ndr = cat.fabric("ib-ndr")
    assert ndr.line_rate_Bps == 50e9 and ndr.effective_Bps == pytest.approx(47e9)
    assert ndr.gdr and ndr.rdma and ndr.latency_s == pytest.approx(3e-6)
    tcp = cat.fabric("tcp-100")
    assert not tcp.gdr and not tcp.rdma and tcp.cpu_cores_per_Bps == pytest.approx(0.4e-9)
    for fab in cat.all("fabric"):  # measurement.md §8 bands: RDMA >= 85 %, TCP <= 60 % typical
        lo, v, hi = fab.range_si("effective_fraction")
        assert (0.85 <= lo <= v <= hi <= 0.98) if fab.rdma else (0.2 <= lo <= v <= hi <= 0.9)


def test_servers_fit_and_price(cat):
    hgx, pcie = cat.server("hgx-h100-8gpu"), cat.server("pcie-8gpu-gen5")
    h100, l40s, rtx = (cat.accelerator(n) for n in ("h100-sxm", "l40s", "rtx-4090"))
    assert hgx.fits(h100) and not hgx.fits(l40s) and pcie.fits(l40s)
    assert not pcie.fits(rtx)  # 450 W consumer card over the 350 W slot budget
    assert cat.server("ws-2gpu-gen4").fits(rtx)
    assert hgx.node_price_usd(h100) == 310000  # the sourced bundle
    assert pcie.node_price_usd(l40s) == 30000 + 8 * 8000
    assert hgx.gpus_per_node == 8 and hgx.scaleup_topology == "nvswitch"
    assert hgx.scaleup_bw_Bps(h100) == 450e9
    assert pcie.scaleup_bw_Bps(l40s) == pytest.approx(16 * 1.969e9)  # Gen4 card
    bridged = cat.server("pcie-8gpu-gen5-nvlink-pairs")
    assert bridged.fits(cat.accelerator("h100-pcie")) and not bridged.fits(l40s)
    assert bridged.scaleup_bw_Bps(cat.accelerator("h100-pcie")) == 300e9
    assert {s.name for s in cat.servers_for(h100)} == {"hgx-h100-8gpu"}
    with pytest.raises(RaxError, match="does not fit"):
        hgx.node_price_usd(l40s)


def test_switch_radix_at_line_rate(cat):
    assert cat.switch("qm9700").radix_at(400) == 64
    assert cat.switch("qm9700").radix_at(200) == 128  # NDR200 split
    with pytest.raises(RaxError, match="cannot serve 100 Gb/s"):
        cat.switch("qm9700").radix_at(100)


def test_match_device_is_exact_and_never_falls_back(cat):
    assert cat.match_device("NVIDIA H100 80GB HBM3").name == "h100-sxm"
    assert cat.match_device("nvidia  a100-sxm4-80gb").name == "a100-sxm-80gb"
    assert cat.match_device("NVIDIA H200 NVL") is None
    assert cat.match_device("cpu") is None


def test_missing_price_is_a_clear_error(write):
    from raxlab.catalog import load_catalog

    cat = load_catalog(write("switches:\n  - name: sn5400\n    price_usd: null\n"))
    with pytest.raises(RaxError, match="missing price for switch 'sn5400'"):
        cat.switch("sn5400").price_usd
