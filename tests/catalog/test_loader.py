"""Strict loading: every built-in entry validates; bad files fail with one line naming
file, entry and field (no pydantic or YAML traceback text)."""

import pytest

from raxlab.catalog import KINDS, builtin_files, load_catalog
from raxlab.catalog.loader import read_document
from raxlab.errors import RaxError

GOOD_NIC = """
nics:
  - name: my-nic
    title: test NIC
    vendor: acme
    protocols: [ethernet]
    rdma: false
    gpudirect_rdma: false
    source: a datasheet
    as_of: 2026-01-01
    ports: 1
    port_rate_gbit_s: 100
"""


def test_every_builtin_entry_validates(cat):
    assert len(builtin_files()) == len(KINDS)
    for kind in KINDS:
        assert cat.names(kind), kind
    # The minimum lists (and a few extras) are all there.
    need = {
        "accelerator": ["a100-sxm-40gb", "a100-sxm-80gb", "a100-pcie-40gb", "a100-pcie-80gb", "h100-sxm",
                        "h100-pcie", "h200-sxm", "b200-sxm", "l40s", "l4", "a10", "rtx-4090", "mi300x",
                        "gaudi3", "gaudi2"],
        "fabric": ["ib-hdr", "ib-ndr", "ib-xdr", "roce-100", "roce-200", "roce-400", "roce-800",
                   "tcp-10", "tcp-25", "tcp-100", "tcp-200", "tcp-400"],
        "switch": ["qm8700", "qm9700", "q3400", "sn5600", "sn5400", "generic-tor-10g",
                   "generic-tor-25g", "generic-tor-100g"],
        "nic": ["connectx-6-hdr", "connectx-7-400g", "connectx-8-800g", "bluefield-3-400g"],
    }
    for kind, names in need.items():
        assert set(names) <= set(cat.names(kind)), kind


def test_every_number_has_provenance_and_prices_say_what_they_are(cat):
    for entry in cat:
        for field, p in entry.numbers().items():
            assert p.source or p.estimate, (entry.name, field)
            assert p.as_of
            if field.startswith("price") or field.startswith("cloud_"):
                assert p.basis, (entry.name, field)
                assert p.basis == "estimate" or p.source, (entry.name, field)


def test_every_numeric_field_name_carries_a_unit():
    from raxlab.catalog import units

    for cls in KINDS.values():
        for field in cls.SPEC.q_fields():
            assert units.is_numeric_name(field), f"{cls.KIND}.{field} has no unit suffix"


def _error(write, text: str) -> str:
    path = write(text)
    with pytest.raises(RaxError) as info:
        load_catalog(path)
    msg = str(info.value)
    assert "\n" not in msg and "pydantic" not in msg.lower() and "Traceback" not in msg
    assert str(path) in msg  # names the file
    return msg


@pytest.mark.parametrize("line, field, words", [
    ("    colour: red", "colour", "unknown field"),
    ("    port_rate_gbps: 100", "port_rate_gbps", "did you mean port_rate_gbit_s"),
    ("    power_kw: 1", "power_kw", "unknown field"),
])
def test_unknown_key_fails_naming_file_entry_field(write, line, field, words):
    msg = _error(write, GOOD_NIC + line + "\n")
    assert "nic 'my-nic'" in msg and field in msg and words in msg


def test_unit_typos_fail_with_a_suggestion(write, cat):
    acc = """
accelerators:
  - name: h100-sxm
    bf16_tflop: 989
    source: x
    as_of: 2026-01-01
"""
    msg = _error(write, acc)
    assert "accelerator 'h100-sxm': bf16_tflop: unknown field; did you mean bf16_tflops" in msg
    msg = _error(write, acc.replace("bf16_tflop: 989", "mem_gb: 80"))
    assert "mem_gb" in msg and "mem_gib" in msg and "unit is part of the field name" in msg


def test_negative_bandwidth_fails(write):
    msg = _error(write, GOOD_NIC.replace("port_rate_gbit_s: 100", "port_rate_gbit_s: -100"))
    assert "nic 'my-nic': port_rate_gbit_s: must not be negative" in msg


@pytest.mark.parametrize("text", [".inf", "-.inf", ".nan"])
def test_infinite_or_nan_number_fails(write, text):
    msg = _error(write, GOOD_NIC.replace("port_rate_gbit_s: 100", f"port_rate_gbit_s: {text}"))
    assert "nic 'my-nic': port_rate_gbit_s: value must be a finite number" in msg


def test_missing_source_fails(write):
    msg = _error(write, GOOD_NIC.replace("    source: a datasheet\n", ""))
    assert "nic 'my-nic': ports: no source" in msg and "estimate:" in msg


def test_missing_as_of_and_missing_required_field_fail(write):
    assert "no as_of" in _error(write, GOOD_NIC.replace("    as_of: 2026-01-01\n", ""))
    msg = _error(write, GOOD_NIC.replace("    rdma: false\n", ""))
    assert "nic 'my-nic': rdma: required field missing" in msg


def test_price_must_say_its_basis(write):
    msg = _error(write, GOOD_NIC + "    price_usd: 900\n")
    assert "price_usd: a price must say what it is" in msg
    load_catalog(write(GOOD_NIC + "    price_usd: {value: 900, basis: quote}\n", "ok.yaml"))


def test_provenance_mapping_keys_are_strict_too(write):
    msg = _error(write, GOOD_NIC.replace("ports: 1", "ports: {value: 1, sauce: x}"))
    assert "ports.sauce: unknown field; did you mean source" in msg


@pytest.mark.parametrize("text, words", [
    ("gpus:\n  - name: x\n", "unknown section 'gpus'"),
    ("nics: [1, 2]\n", "must be a list of entries"),
    ("nics:\n  - name: a\n    name: b\n", "duplicate key 'name'"),
    ("nics:\n  - name: [unclosed\n", "not valid YAML at line"),
    ("- just a list\n", "expected a mapping of sections"),
])
def test_malformed_documents_fail_in_one_line(write, text, words):
    assert words in _error(write, text)


def test_wrong_types_fail(write):
    assert "must be a number" in _error(write, GOOD_NIC.replace("ports: 1", "ports: true"))
    assert "whole number" in _error(write, GOOD_NIC.replace("ports: 1", "ports: 1.5"))
    assert "rdma: Input should be a valid boolean" in _error(write, GOOD_NIC.replace("rdma: false", "rdma: maybe"))
    assert "ports.value: Input should be a valid number" in _error(write, GOOD_NIC.replace("ports: 1", "ports: {value: '1'}"))


def test_low_high_must_bracket_the_value(write):
    msg = _error(write, GOOD_NIC.replace("ports: 1", "ports: {value: 2, low: 3}"))
    assert "ports: low 3 is above value 2" in msg


def test_unknown_reference_lists_known_names(write):
    text = GOOD_NIC.replace("nics:", "fabrics:\n  - name: my-fab\n    title: t\n    family: ethernet\n"
                            "    transport: tcp\n    gpudirect_rdma: false\n    source: s\n    as_of: 2026-01-01\n"
                            "    line_rate_gbit_s: 100\n    effective_fraction: 0.5\n    latency_us: 20\n"
                            "    cpu_cores_per_gbyte_s: 0.4\n    nics: [my-nic]\n    switches: [no-such-switch]\n"
                            "    cable_short: dac-100g-qsfp28\n    cable_long: optics-100g-link\nnics:")
    msg = _error(write, text)
    assert "fabric 'my-fab': switches: unknown switch 'no-such-switch'" in msg and "Known:" in msg


def test_names_are_unique_across_kinds(write):
    msg = _error(write, GOOD_NIC.replace("name: my-nic", "name: qm9700"))
    assert "'qm9700' is used by a nic" in msg and "and a switch (data/switches.yaml)" in msg


def test_read_document_of_builtin_files_round_trips():
    for path, label in builtin_files():
        doc = read_document(path, label)
        assert doc and all(isinstance(v, list) for v in doc.values())
