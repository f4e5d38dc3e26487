"""Planner defaults as data (`data/defaults.yaml`), each with its source or estimate.

`default(key)` returns a `Default` (value + where it comes from); the planner records every
default it used as a labelled assumption, so nothing is assumed silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from raxlab.errors import RaxError
from raxlab.safe_yaml import PACKAGE_LOADER

PATH = Path(__file__).parent / "data" / "defaults.yaml"


@dataclass(frozen=True)
class Default:
    key: str
    value: float
    source: str | None = None
    estimate: str | None = None

    @property
    def label(self) -> str:
        return "estimate" if self.estimate else "catalogue"

    @property
    def basis(self) -> str:
        return " ".join((self.source or self.estimate or "").split())

    def note(self, what: str, shown: str) -> str:
        """One assumption line: 'what = shown (estimate: reasoning)'."""
        return f"{what} = {shown} ({self.label}: {self.basis})"


@lru_cache(maxsize=1)
def _load() -> dict:
    try:
        return yaml.load(PATH.read_text(), Loader=PACKAGE_LOADER) or {}
    except (OSError, yaml.YAMLError) as e:  # a broken package file is a bug; say which file
        raise RaxError(f"cannot read {PATH}: {e}", field="plan defaults") from e


def default(key: str) -> Default:
    node = _load().get(key)
    if not isinstance(node, dict) or "value" not in node:
        raise RaxError(f"no planner default {key!r} in {PATH.name}", field="plan defaults")
    return Default(key, float(node["value"]), node.get("source"), node.get("estimate"))
