"""`rax catalog list/show/validate` through the real entry point."""

import json

import pytest

from raxlab.cli.main import main


def test_list_all_and_one_kind(capsys):
    assert main(["catalog", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"accelerator", "server", "nic", "fabric", "switch", "cable", "storage"}
    h100 = next(e for e in data["accelerator"] if e["name"] == "h100-sxm")
    assert h100["bf16_tflops"] == 989 and "price_usd" not in h100["estimated"]
    assert main(["catalog", "list", "fabrics"]) == 0  # plural accepted
    out = capsys.readouterr().out
    assert "ib-ndr" in out and "tcp-100" in out and "estimate" in out


def test_show_with_provenance(capsys):
    assert main(["catalog", "show", "ib-ndr"]) == 0
    out = capsys.readouterr().out
    assert "effective_fraction" in out and "nccl-tests issues #290" in out
    assert main(["catalog", "show", "h100-sxm", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["numbers"]["price_usd"]["basis"] == "street" and d["origin"] == "data/accelerators.yaml"


@pytest.mark.parametrize("argv, words", [
    (["catalog", "show", "h100"], "did you mean h100-sxm, h100-pcie"),
    (["catalog", "list", "gpus"], "unknown catalogue kind 'gpus'"),
])
def test_unknown_names_exit_2_with_closest(capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rax: error:") and words in err and err.count("\n") == 1


def test_validate_builtin_and_a_user_file(capsys, write):
    assert main(["catalog", "validate", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["ok"] and d["issues"] == [] and d["entries"]["accelerator"] >= 14
    good = write("accelerators:\n  - name: h100-sxm\n    price_usd: {value: 27000, source: q, as_of: 2026-05-01, basis: quote}\n")
    assert main(["catalog", "validate", str(good)]) == 0
    assert "overridden: h100-sxm" in capsys.readouterr().out
    inconsistent = write("switches:\n  - name: qm9700\n    ports: {value: 32, source: q, as_of: 2026-05-01}\n", "bad.yaml")
    assert main(["catalog", "validate", str(inconsistent)]) == 1
    assert "capacity_tbit_s" in capsys.readouterr().out
    broken = write("nics:\n  - name: connectx-7-400g\n    port_rate_gbit_s: -400\n", "broken.yaml")
    assert main(["catalog", "validate", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml: nic 'connectx-7-400g': port_rate_gbit_s" in err and err.count("\n") == 1


def test_override_flag_and_env_on_list(capsys, write, monkeypatch):
    ov = write("accelerators:\n  - name: l4\n    price_usd: {value: 1999, source: q, as_of: 2026-05-01, basis: quote}\n")
    assert main(["catalog", "list", "accelerator", "--catalog-override", str(ov)]) == 0
    assert "1,999*" in capsys.readouterr().out
    monkeypatch.setenv("RAX_CATALOG_OVERRIDE", str(ov))
    assert main(["catalog", "show", "l4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["numbers"]["price_usd"]["label"] == "override"
    assert main(["catalog", "show", "l4", "--json", "--catalog-override", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["numbers"]["price_usd"]["label"] == "estimate"
