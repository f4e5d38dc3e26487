"""User overrides: merged over the built-in data, validated the same way, marked 'override'."""

import pytest

from raxlab.catalog import find_override, load_catalog, user_override_path
from raxlab.errors import RaxError

QUOTE = """
accelerators:
  - name: h100-sxm
    price_usd: {value: 27500, source: "Dell quote Q-1234", as_of: 2026-05-01, basis: quote}
servers:
  - name: my-h100-box
    title: our vendor's 8x H100 server
    vendor: Dell
    accelerators: [h100-sxm]
    accepts_form_factor: sxm
    scaleup_topology: nvswitch
    source: Dell quote Q-1234
    as_of: 2026-05-01
    gpus_per_node: 8
    pcie_gen: 5
    nic_slots: 8
    nics_included: 8
    compute_nic: connectx-7-400g
    cpu: 2x Xeon 8480+
    cpu_cores: 112
    host_mem_gib: 2048
    power_w: 10200
    price_no_gpu_usd: {value: 80000, basis: quote}
"""


def test_partial_override_wins_and_keeps_other_sources(write):
    cat = load_catalog(write(QUOTE))
    h100 = cat.accelerator("h100-sxm")
    assert h100.price_usd == 27500
    p = h100.provenance("price_usd")
    assert p.override and p.label == "override" and p.source == "Dell quote Q-1234" and p.basis == "quote"
    bf16 = h100.provenance("bf16_tflops")  # untouched fields keep the built-in provenance
    assert not bf16.override and "ml-engineering" in bf16.source
    assert h100.overridden_fields == {"price_usd"}
    # Your GPU price wins over the built-in bundle: chassis estimate + 8 x your quote.
    assert cat.server("hgx-h100-8gpu").node_price_usd(h100) == 70000 + 8 * 27500


def test_new_entry_from_override(write):
    cat = load_catalog(write(QUOTE))
    box = cat.server("my-h100-box")
    assert box.node_price_usd(cat.accelerator("h100-sxm")) == 80000 + 8 * 27500
    assert all(p.override for p in box.numbers().values())
    assert box.provenance("price_no_gpu_usd").source == "Dell quote Q-1234"  # entry default
    assert box.origin.endswith("override.yaml")


def test_override_is_validated_the_same_way(write):
    bad = QUOTE.replace("host_mem_gib: 2048", "host_mem_gb: 2048")
    with pytest.raises(RaxError) as info:
        load_catalog(write(bad))
    msg = str(info.value)
    assert "override.yaml: server 'my-h100-box': host_mem_gb: unknown field; did you mean host_mem_gib" in msg
    no_source = "accelerators:\n  - name: h100-sxm\n    tdp_w: 650\n"
    with pytest.raises(RaxError, match="h100-sxm': tdp_w: no source"):
        load_catalog(write(no_source))


def test_override_discovery_order(write, monkeypatch, tmp_path):
    assert find_override() is None  # conftest points XDG_CONFIG_HOME at an empty dir
    std = user_override_path()
    std.parent.mkdir(parents=True)
    std.write_text(QUOTE)
    assert find_override() == std
    assert load_catalog().accelerator("h100-sxm").price_usd == 27500
    env = write(QUOTE.replace("27500", "26000"), "env.yaml")
    monkeypatch.setenv("RAX_CATALOG_OVERRIDE", str(env))
    assert load_catalog().accelerator("h100-sxm").price_usd == 26000  # env beats the std path
    arg = write(QUOTE.replace("27500", "25000"), "arg.yaml")
    assert load_catalog(arg).accelerator("h100-sxm").price_usd == 25000  # argument beats env
    assert load_catalog(False).accelerator("h100-sxm").price_usd == 30000  # built-in only
    monkeypatch.setenv("RAX_CATALOG_OVERRIDE", "")
    assert find_override() is None


def test_missing_override_file_is_an_error(tmp_path):
    with pytest.raises(RaxError, match="catalogue override file not found"):
        load_catalog(tmp_path / "nope.yaml")
