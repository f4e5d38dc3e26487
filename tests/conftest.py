"""Shared fixtures: every test gets its own results store."""

import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    monkeypatch.setenv("RAX_STORE", str(tmp_path / "rax.db"))
    yield


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
