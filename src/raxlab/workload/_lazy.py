"""`torch`, imported on first attribute access.

Modules whose data classes must load without torch (a cached card read by a warm `rax predict`)
but whose functions use it write `from raxlab.workload._lazy import torch`. Importing torch costs
1-3 s of a CLI call; reading a card costs milliseconds.
"""

from __future__ import annotations

import importlib
from typing import Any


class _LazyModule:
    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name}>"


torch = _LazyModule("torch")
