"""The loaded catalogue: built-in data merged with at most one user override file."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterator

from raxlab.catalog import loader
from raxlab.catalog.parts import KINDS, Accelerator, Cable, Entry, Fabric, Nic, Server, Storage, Switch
from raxlab.errors import RaxError, unknown_name

ENV_OVERRIDE = "RAX_CATALOG_OVERRIDE"


def user_override_path() -> Path:
    """The standard per-user override file: $XDG_CONFIG_HOME/raxlab/catalog-override.yaml."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "raxlab" / "catalog-override.yaml"


def find_override(override: str | os.PathLike | None | bool = None) -> Path | None:
    """Which override file applies: the argument, else $RAX_CATALOG_OVERRIDE, else the
    standard path if it exists. `False` (or an empty env value) means none."""
    if override is False:
        return None
    if override not in (None, True):
        return Path(override)
    env = os.environ.get(ENV_OVERRIDE)
    if env is not None:
        return Path(env) if env.strip() else None
    std = user_override_path()
    return std if std.is_file() else None


@dataclass
class _Raw:
    """One entry before it becomes a typed part: normalised fields and where they came from."""

    data: dict
    origin: str
    changed: set[str] = field(default_factory=set)


class Catalog:
    """All parts by kind and name. Look-ups of unknown names raise with the closest names."""

    def __init__(self, entries: dict[str, dict[str, Entry]], override_path: Path | None):
        self._entries = entries
        self.override_path = override_path

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(KINDS)

    def names(self, kind: str) -> list[str]:
        return sorted(self._by_kind(kind))

    def all(self, kind: str) -> list[Entry]:
        return [self._by_kind(kind)[n] for n in self.names(kind)]

    def __iter__(self) -> Iterator[Entry]:
        for kind in KINDS:
            yield from self.all(kind)

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())

    def get(self, kind: str, name: str) -> Entry:
        entries = self._by_kind(kind)
        if name not in entries:
            raise unknown_name(kind, name, list(entries))
        return entries[name]

    def find(self, name: str) -> Entry:
        """An entry of any kind by its name (names are unique across kinds), or 'kind/name'."""
        if "/" in name:
            kind, _, bare = name.partition("/")
            return self.get(kind, bare)
        for entries in self._entries.values():
            if name in entries:
                return entries[name]
        raise unknown_name("catalogue entry", name, [e.name for e in self])

    def _by_kind(self, kind: str) -> dict[str, Entry]:
        if kind not in self._entries:
            raise unknown_name("catalogue kind", kind, list(KINDS))
        return self._entries[kind]

    def accelerator(self, name: str) -> Accelerator:
        return self.get("accelerator", name)  # type: ignore[return-value]

    def server(self, name: str) -> Server:
        return self.get("server", name)  # type: ignore[return-value]

    def nic(self, name: str) -> Nic:
        return self.get("nic", name)  # type: ignore[return-value]

    def fabric(self, name: str) -> Fabric:
        return self.get("fabric", name)  # type: ignore[return-value]

    def switch(self, name: str) -> Switch:
        return self.get("switch", name)  # type: ignore[return-value]

    def cable(self, name: str) -> Cable:
        return self.get("cable", name)  # type: ignore[return-value]

    def storage(self, name: str) -> Storage:
        return self.get("storage", name)  # type: ignore[return-value]

    def match_device(self, device_name: str) -> Accelerator | None:
        """The accelerator whose `device_names` include this reported name (case and spacing
        ignored), or None: an unknown device never borrows another part's numbers."""
        key = _norm_device(device_name)
        for acc in self.all("accelerator"):
            if any(_norm_device(n) == key for n in acc.spec.device_names):
                return acc  # type: ignore[return-value]
        return None

    def servers_for(self, acc: Accelerator) -> list[Server]:
        """Servers that `acc` can populate."""
        return [s for s in self.all("server") if s.fits(acc)]  # type: ignore[attr-defined]


def _norm_device(name: str) -> str:
    return " ".join(name.lower().split())


def builtin_files() -> list[tuple[Path, str]]:
    """The package's data files as (path, label for messages)."""
    root = resources.files("raxlab.catalog") / "data"
    return sorted((Path(str(p)), f"data/{p.name}") for p in root.iterdir() if p.name.endswith(".yaml"))


def load_catalog(override: str | os.PathLike | None | bool = None) -> Catalog:
    """Built-in data merged with the override file (see `find_override`); strict throughout."""
    raws: dict[str, dict[str, _Raw]] = {k: {} for k in KINDS}
    for path, label in builtin_files():
        _add_document(raws, path, label, is_override=False)
    ov = find_override(override)
    if ov is not None:
        if not ov.is_file():
            raise RaxError(f"catalogue override file not found: {ov}", field="--catalog-override")
        _add_document(raws, ov, str(ov), is_override=True)
    return Catalog(_build(raws), ov)


def _add_document(raws: dict[str, dict[str, _Raw]], path: Path, label: str, is_override: bool) -> None:
    for kind, items in loader.read_document(path, label).items():
        for i, raw in enumerate(items):
            loc = loader.where(label, kind, raw, i)
            name = raw.get("name")
            base = raws[kind].get(name) if isinstance(name, str) else None
            if base is not None and not is_override:
                raise RaxError(f"duplicate entry (also in {base.origin})", field=loc)
            new = loader.normalize(raw, kind, loc, override=is_override)
            merged = _merge(base, new, label, is_override)
            loader.validate(merged.data, kind, loc)  # errors name this file
            raws[kind][merged.data["name"]] = merged


def _merge(base: _Raw | None, new: dict, label: str, is_override: bool) -> _Raw:
    """Override fields win; the base entry's own default provenance stays (it is inert after
    normalisation) so a partial override keeps the built-in sources of the other fields."""
    fields = {k: v for k, v in new.items() if k not in ("name", *loader.PROVENANCE_KEYS)}
    changed = set(fields) if is_override else set()
    if base is None:
        return _Raw(new, label, changed)
    return _Raw(base.data | fields, label, base.changed | changed)


def _build(raws: dict[str, dict[str, _Raw]]) -> dict[str, dict[str, Entry]]:
    owner: dict[str, tuple[str, str]] = {}
    for kind, entries in raws.items():
        for name, raw in entries.items():
            if name in owner:
                other, where = owner[name]
                raise RaxError(f"name {name!r} is used by a {other} ({where}) and a {kind} "
                               f"({raw.origin}); names must be unique across kinds", field="catalogue")
            owner[name] = (kind, raw.origin)
    built = {kind: {n: KINDS[kind](loader.validate(r.data, kind, r.origin), r.origin, r.changed)
                    for n, r in entries.items()} for kind, entries in raws.items()}
    _check_refs(built, raws)
    return built


def _check_refs(built: dict[str, dict[str, Entry]], raws: dict[str, dict[str, _Raw]]) -> None:
    """Every name an entry mentions (server -> accelerator, fabric -> nic ...) must exist."""
    for kind, entries in built.items():
        for name, entry in entries.items():
            for fld, target in entry.REFS.items():
                value = getattr(entry.spec, fld)
                for ref in (value,) if isinstance(value, str) else (value or ()):
                    if ref not in built[target]:
                        loc = f"{raws[kind][name].origin}: {kind} {name!r}: {fld}"
                        raise unknown_name(target, ref, list(built[target]), field=loc)
