"""Consistency check (CI): derived numbers agree with the stated ones."""

import pytest

from raxlab.catalog import consistency_issues, load_catalog


def test_builtin_catalogue_is_consistent(cat):
    assert consistency_issues(cat) == []


def test_derived_numbers_by_hand(cat):
    for name, lane in (("ib-hdr", 50), ("ib-ndr", 100), ("ib-xdr", 200)):
        fab = cat.fabric(name)
        assert fab.value("line_rate_gbit_s") == 4 * lane == 4 * fab.value("lane_rate_gbit_s")
    q = cat.switch("qm9700")  # "51.2 Tb/s bidirectional" = 64 x 400 Gb/s x 2
    assert q.value("capacity_tbit_s") * 1e3 == 64 * 400 * 2
    sn = cat.switch("sn5600")  # "51.2 Tb/s" counted one way = 64 x 800
    assert sn.value("capacity_tbit_s") * 1e3 == 64 * 800
    for acc in cat.all("accelerator"):
        if acc.has("bf16_tflops") and acc.has("fp16_tflops"):
            assert acc.value("fp16_tflops") == acc.value("bf16_tflops"), acc.name
        if acc.has("scaleup_links"):  # NVLink4: 18 links x 25 GB/s = 450 GB/s one way
            assert acc.value("scaleup_links") * acc.value("scaleup_link_bw_gbyte_s") == acc.value("scaleup_bw_gbyte_s")


@pytest.mark.parametrize("override, expected", [
    ("fabrics:\n  - name: ib-ndr\n    lane_rate_gbit_s: {value: 50, estimate: typo test, as_of: 2026-01-01}\n",
     "fabric ib-ndr: line_rate_gbit_s: not lanes x lane_rate_gbit_s"),
    ("switches:\n  - name: qm9700\n    capacity_tbit_s: {value: 25.6, estimate: t, as_of: 2026-01-01}\n",
     "switch qm9700: capacity_tbit_s: not ports x port_speed_gbit_s x 2 (bidirectional)"),
    ("accelerators:\n  - name: h100-sxm\n    fp16_tflops: {value: 1979, estimate: t, as_of: 2026-01-01}\n",
     "accelerator h100-sxm: fp16_tflops: differs from bf16_tflops"),
    # A sparse headline entered as dense: the measured MAMF drops to 40 % of "peak".
    ("accelerators:\n  - name: h100-sxm\n    bf16_tflops: {value: 1979, estimate: t, as_of: 2026-01-01}\n",
     "accelerator h100-sxm: mamf_bf16_tflops: 40% of the bf16 peak"),
    ("fabrics:\n  - name: tcp-100\n    effective_fraction: {value: 0.97, estimate: t, as_of: 2026-01-01}\n",
     "fabric tcp-100: effective_fraction: 0.97 outside the TCP bounds"),
    ("accelerators:\n  - name: b200-sxm\n    scaleup_bw_gbyte_s: {value: 1800, estimate: t, as_of: 2026-01-01}\n",
     "accelerator b200-sxm: scaleup_bw_gbyte_s: not scaleup_links x scaleup_link_bw_gbyte_s"),
    ("servers:\n  - name: hgx-h100-8gpu\n    power_w: {value: 5000, estimate: t, as_of: 2026-01-01}\n",
     "server hgx-h100-8gpu: power_w: not above gpus_per_node x h100-sxm TDP"),
])
def test_inconsistencies_are_found(write, override, expected):
    issues = consistency_issues(load_catalog(write(override)))
    assert any(expected in i for i in issues), issues
