"""The shape every catalogue entry shares: numbers with provenance, SI on the object.

A number in a data file is either plain (`bf16_tflops: 989`, taking the entry's `source`,
`estimate` and `as_of`) or a mapping that carries its own provenance:

    price_usd: {value: 30000, source: "...", as_of: 2024-08-01, basis: street}

The loader (`loader.py`) turns both forms into `Q` before validation, so a model only ever
sees `Q`. Each `Q` has a `source` (URL or document), an `estimate` (the reasoning, when no
public source gives the number; may cite the sources it was derived from) or both, and an
`as_of` date. `low`/`high` carry a published range (e.g. RDMA 92-98 % of line rate).
"""

from __future__ import annotations

import math
import typing
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from raxlab.catalog import units
from raxlab.errors import RaxError

PriceBasis = Literal["list", "street", "msrp", "quote", "on-demand", "estimate"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9.+-]*$"


class Q(BaseModel):
    """One catalogue number and where it came from (file units; see `units.py`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: float = Field(strict=True)  # strict: "989" in quotes is a typo, not a number
    source: str | None = None
    estimate: str | None = None
    as_of: date
    basis: PriceBasis | None = None  # prices only: what kind of price this is
    low: float | None = Field(default=None, strict=True)
    high: float | None = Field(default=None, strict=True)
    note: str | None = None
    override: bool = False  # set by the loader for numbers from a user override file

    @model_validator(mode="after")
    def _check(self) -> "Q":
        if not (self.source or self.estimate):
            raise ValueError("no provenance: give source: (URL or document) or estimate: (reasoning)")
        bad = [n for n in ("value", "low", "high") if getattr(self, n) is not None and not math.isfinite(getattr(self, n))]
        if bad:  # YAML reads .inf / .nan as floats; no catalogue number is infinite
            raise ValueError(f"{bad[0]} must be a finite number (got {getattr(self, bad[0])})")
        if self.value < 0:
            raise ValueError(f"must not be negative (got {self.value:g})")
        if self.low is not None and self.low > self.value:
            raise ValueError(f"low {self.low:g} is above value {self.value:g}")
        if self.high is not None and self.high < self.value:
            raise ValueError(f"high {self.high:g} is below value {self.value:g}")
        return self


@dataclass(frozen=True)
class Provenance:
    """Where one field's number comes from, for reports (values in file units and SI)."""

    field: str
    value: float
    unit: str
    si_value: float
    si_unit: str
    source: str | None
    estimate: str | None
    as_of: str
    basis: str | None
    low: float | None
    high: float | None
    note: str | None
    override: bool

    @property
    def is_estimate(self) -> bool:
        return self.estimate is not None

    @property
    def label(self) -> str:
        """'catalogue', 'estimate' or 'override', as reports label numbers."""
        return "override" if self.override else "estimate" if self.is_estimate else "catalogue"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label}


def _inside(v: float, rng: tuple[float, float, bool]) -> bool:
    lo, hi, inclusive = rng
    return (lo <= v if inclusive else lo < v) and v <= hi


def _is_q(annotation: Any) -> bool:
    return annotation is Q or Q in typing.get_args(annotation)


class Spec(BaseModel):
    """File shape of one entry (pydantic, strict). Subclasses add fields; numbers are `Q`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=NAME_PATTERN)
    title: str
    vendor: str | None = None
    source: str | None = None  # default provenance for plain numbers in the file
    estimate: str | None = None
    as_of: date | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _physical(self) -> "Spec":
        """Counts whole, every number (and its low/high) inside its physical range (units.RANGES)."""
        for f in self.q_fields():
            q = getattr(self, f)
            if q is None:
                continue
            if f in units.COUNTS and q.value != int(q.value):
                raise ValueError(f"{f}: must be a whole number (got {q.value:g})")
            rng = units.value_range(f)
            for what, v in (("value", q.value), ("low", q.low), ("high", q.high)):
                if rng is not None and v is not None and not _inside(v, rng):
                    where = f"{f}" if what == "value" else f"{f}.{what}"
                    raise ValueError(f"{where}: {v:g} is outside the physical range ({units.range_text(f)})")
        return self

    @classmethod
    def q_fields(cls) -> tuple[str, ...]:
        """Names of the numeric fields (each a `Q`) of this kind."""
        return tuple(n for n, f in cls.model_fields.items() if _is_q(f.annotation))


class Entry:
    """A validated part with SI numbers. `spec` is the file shape; non-numeric spec fields
    read through (`acc.form_factor`); numbers through SI properties or `si(field)`."""

    KIND: ClassVar[str] = ""
    SPEC: ClassVar[type[Spec]] = Spec
    REFS: ClassVar[dict[str, str]] = {}  # spec field -> kind of the entry it names

    def __init__(self, spec: Spec, origin: str = "", overridden_fields: set[str] | None = None):
        self.spec = spec
        self.origin = origin  # the file it came from (the override file if any field did)
        self.overridden_fields = frozenset(overridden_fields or ())  # fields a user file set
        self._si = {f: units.to_si(f, getattr(spec, f).value)
                    for f in spec.q_fields() if getattr(spec, f) is not None}

    def __getattr__(self, attr: str) -> Any:
        spec = self.__dict__.get("spec")
        if spec is None or attr.startswith("_") or attr not in type(spec).model_fields:
            raise AttributeError(attr)
        if attr in spec.q_fields():
            raise AttributeError(f"{attr} is a number in file units; use .si({attr!r}), "
                                 f".provenance({attr!r}) or the SI property")
        return getattr(spec, attr)

    def __repr__(self) -> str:
        return f"<{self.KIND} {self.name}>"

    def q_fields(self) -> tuple[str, ...]:
        return self.spec.q_fields()

    def has(self, field: str) -> bool:
        return field in self._si

    def si(self, field: str) -> float:
        """The SI value of a numeric field; RaxError naming the entry when it is absent."""
        if field not in self._si:
            if field not in self.q_fields():
                raise RaxError(f"{self.KIND} has no field {field!r}", field=self.name)
            raise RaxError(f"no {field} in the catalogue for {self.KIND} {self.name!r}; "
                           "add it in a catalogue override file (--catalog-override)",
                           field=self.name)
        return self._si[field]

    def value(self, field: str) -> float:
        """A number in the file's unit (for display)."""
        self.si(field)
        return getattr(self.spec, field).value

    def provenance(self, field: str) -> Provenance:
        q: Q = getattr(self.spec, field) if self.has(field) else self.si(field)
        return Provenance(
            field=field, value=q.value, unit=units.file_unit(field), si_value=self._si[field],
            si_unit=units.si_unit(field), source=q.source, estimate=q.estimate,
            as_of=q.as_of.isoformat(), basis=q.basis, low=q.low, high=q.high, note=q.note,
            override=q.override,
        )

    def range_si(self, field: str) -> tuple[float, float, float]:
        """(low, value, high) in SI; low/high default to the value when no range is given."""
        v = self.si(field)
        q: Q = getattr(self.spec, field)
        lo = v if q.low is None else units.to_si(field, q.low)
        hi = v if q.high is None else units.to_si(field, q.high)
        return lo, v, hi

    def numbers(self) -> dict[str, Provenance]:
        return {f: self.provenance(f) for f in self.q_fields() if f in self._si}

    @property
    def overridden(self) -> bool:
        return bool(self.overridden_fields)

    def _price(self, field: str) -> float:
        if field not in self._si:
            raise RaxError(f"missing price for {self.KIND} {self.name!r}; add your quote in a "
                           "catalogue override file (--catalog-override)", field=field)
        return self._si[field]

    def to_dict(self) -> dict[str, Any]:
        """JSON form: plain fields, then every number with its provenance and SI value."""
        plain = self.spec.model_dump(mode="json", exclude=set(self.q_fields()), exclude_none=True)
        return {"kind": self.KIND, **plain,
                "numbers": {f: p.to_dict() for f, p in self.numbers().items()}}
