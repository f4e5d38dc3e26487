"""Catalogue fixtures: the built-in catalogue, loaded once, and no user override leaking in."""

import pytest

from raxlab.catalog import load_catalog


@pytest.fixture(autouse=True)
def _no_user_override(tmp_path, monkeypatch):
    # A developer's own ~/.config/raxlab/catalog-override.yaml must not change test results.
    monkeypatch.delenv("RAX_CATALOG_OVERRIDE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


@pytest.fixture(scope="session")
def cat():
    return load_catalog(False)


@pytest.fixture
def write(tmp_path):
    """Write a YAML document to a file and return its path."""
    def _write(text: str, name: str = "override.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return path
    return _write
