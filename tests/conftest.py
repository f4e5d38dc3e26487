"""Shared fixtures: every test gets its own results store."""

import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    monkeypatch.setenv("RAX_STORE", str(tmp_path / "rax.db"))
    yield


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def pytest_sessionstart(session):
    # Outside CI a non-root run skips the root tests (network namespaces, tc) with the reason;
    # in CI that would turn the fabric, A/B and acceptance checks into silent skips, so refuse.
    if os.environ.get("CI") == "true" and not is_root():
        raise pytest.UsageError("CI=true but not running as root: the root tests (network namespaces, "
                                "tc shaping) would be skipped; run the CI job as root")
