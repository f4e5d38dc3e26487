"""Helpers for workload tests: spec files in tmp dirs and CLI calls."""

from __future__ import annotations

import pytest
import yaml

from raxlab.cli.main import main


@pytest.fixture
def write_spec(tmp_path):
    """write_spec(**fields) -> path of a spec YAML in tmp_path (name defaults to 't')."""

    def write(name: str = "spec.yaml", **fields):
        fields.setdefault("name", "t")
        path = tmp_path / name
        path.write_text(yaml.safe_dump(fields))
        return path

    return write


@pytest.fixture
def rax(capsys):
    """rax(*argv) -> (exit code, stdout, stderr) of the real CLI entry point."""

    def call(*argv: str):
        code = main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def one_line_error(err: str) -> str:
    """The single `rax: error: ...` line, asserting there is exactly one line and no traceback."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("rax: error: "), err
    assert "Traceback" not in err
    return lines[0]
