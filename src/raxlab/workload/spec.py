"""`WorkloadSpec`: what the customer brings, as a strict YAML schema.

A spec names a model, a sample of data, a task, shapes, batch settings, the precisions
to consider and the business targets. Unknown keys are errors (a typo must not silently
fall back to a default). Relative paths resolve against the spec file's directory, so a
spec and its sample can be moved together. Targets are stored in the units of their
field names; `Targets` exposes SI views (`deadline_s`, `power_w`, ...) for later layers.

Example::

    name: my-llm
    model: ./config.json            # or an inline dict with model_type, a preset model,
    data: ./sample.jsonl            #   a torchvision/timm name, or package.module:factory
    task: train
    seq_len: 2048
    micro_batch: 4
    global_batch: 512
    precisions: [bf16, fp8]
    targets: {tokens: 1.0e+12, deadline_days: 30, budget_usd: 2.0e+6}
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from raxlab import safe_yaml
from raxlab.errors import RaxError
from raxlab.workload.paths import path_kind, user_path  # noqa: F401 (re-exported)

PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8")
TASKS = ("train", "finetune", "infer")
KINDS = ("lm", "vision", "tabular", "other")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Targets(_Strict):
    """Business targets. All optional; each non-negative and finite.

    `tokens`/`samples` are one pass over the training data and `epochs` the number of
    passes (total work = epochs x tokens). A latency target needs the request rate it
    must hold at (a p99 is meaningless without the load that produces it).
    """

    tokens: float | None = Field(None, description="tokens in one pass over the data")
    samples: float | None = Field(None, description="samples in one pass over the data")
    epochs: float | None = Field(None, description="passes over the data (default 1)")
    deadline_days: float | None = None
    deadline_hours: float | None = None
    throughput_samples_per_s: float | None = None
    throughput_tokens_per_s: float | None = None
    latency_p99_ms: float | None = None
    # serving SLAs, as the field states them: time to first token (p99 under the load) and time
    # per output token (decode step) in milliseconds
    ttft_ms: float | None = Field(None, description="serving: p99 time to first token under the load, ms")
    tpot_ms: float | None = Field(None, description="serving: time per output token (decode step), ms")
    request_rate_per_s: float | None = None
    budget_usd: float | None = None
    power_kw: float | None = None
    rack_units: float | None = None
    tco_years: float | None = None
    electricity_usd_per_kwh: float | None = None
    pue: float | None = Field(None, description="power usage effectiveness, >= 1")

    @field_validator("*")
    @classmethod
    def _finite_non_negative(cls, v: float | None, info) -> float | None:
        if v is not None and (not math.isfinite(v) or v < 0):
            raise ValueError(f"must be a non-negative finite number, got {v}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "Targets":
        if self.tokens is not None and self.samples is not None:
            raise ValueError("give tokens or samples, not both")
        if self.deadline_days is not None and self.deadline_hours is not None:
            raise ValueError("give deadline_days or deadline_hours, not both")
        for name in ("latency_p99_ms", "ttft_ms", "tpot_ms"):
            if getattr(self, name) is not None and self.request_rate_per_s is None:
                raise ValueError(f"{name} needs request_rate_per_s (the load the latency must hold at)")
        if self.pue is not None and self.pue < 1:
            raise ValueError(f"pue must be >= 1 (facility power / IT power), got {self.pue}")
        return self

    @property
    def deadline_s(self) -> float | None:
        if self.deadline_days is not None:
            return self.deadline_days * 86400.0
        return None if self.deadline_hours is None else self.deadline_hours * 3600.0

    @property
    def power_w(self) -> float | None:
        return None if self.power_kw is None else self.power_kw * 1e3

    @property
    def latency_p99_s(self) -> float | None:
        return None if self.latency_p99_ms is None else self.latency_p99_ms / 1e3

    def total_tokens(self, tokens_per_sample: int | None = None) -> float | None:
        """Tokens to process over all epochs (samples x tokens_per_sample if given in samples)."""
        epochs = self.epochs if self.epochs is not None else 1.0
        if self.tokens is not None:
            return self.tokens * epochs
        if self.samples is not None and tokens_per_sample:
            return self.samples * tokens_per_sample * epochs
        return None

    def total_samples(self, tokens_per_sample: int | None = None) -> float | None:
        """Samples to process over all epochs (tokens / tokens_per_sample if given in tokens)."""
        epochs = self.epochs if self.epochs is not None else 1.0
        if self.samples is not None:
            return self.samples * epochs
        if self.tokens is not None and tokens_per_sample:
            return self.tokens / tokens_per_sample * epochs
        return None


class DataSpec(_Strict):
    """A data sample with reader options (the short form `data: PATH` sets only `path`)."""

    path: str = Field(description="file or folder, or a bundled sample name")
    text_field: str = Field("text", description="JSONL key or table column holding text")
    target: str | None = Field(None, description="table column / tensor key with labels")
    features: list[str] | None = Field(None, description="table columns used as features")
    inputs: str | None = Field(None, description="tensor key with inputs (.safetensors)")


class ProxySpec(_Strict):
    """A scaled-down stand-in measured when the real model does not fit the machine at hand.

    Same architecture family (the config with `model_overrides` applied), same data sample
    and tokenizer, so data loading, the step's structure, the network and the method's
    back-test are measured for real; the full model is characterised by its card and
    projected with per-device priors. Reports label every such number as from the proxy.
    """

    model_overrides: dict[str, Any] = Field(min_length=1, description="config fields replaced for the proxy")
    seq_len: int | None = Field(None, gt=0, description="tokens per sample of the proxy (default: the spec's)")
    micro_batch: int | None = Field(None, gt=0)
    note: str | None = None


class CandidatesSpec(_Strict):
    """Limits on what the planner may propose (e.g. a CUDA-only software stack), with the reason."""

    accelerators: list[str] | None = Field(None, min_length=1, description="catalogue accelerator names")
    servers: list[str] | None = Field(None, min_length=1, description="catalogue server names")
    fabrics: list[str] | None = Field(None, min_length=1, description="catalogue fabric names")
    max_nodes: int | None = Field(None, gt=0)
    reason: str | None = Field(None, description="why the choice is limited, shown in the plan")


class WorkloadSpec(_Strict):
    """A workload: model + data sample + task + shapes + targets. See the module docstring."""

    name: str = Field(min_length=1)
    description: str | None = None
    source: str | None = Field(None, description="where the shape comes from (paper, model card)")
    model: str | dict[str, Any]
    model_args: dict[str, Any] = Field(default_factory=dict, description="kwargs for a factory")
    data: DataSpec
    kind: Literal["lm", "vision", "tabular", "other"] | None = None
    task: Literal["train", "finetune", "infer"] = "train"
    lora_rank: int | None = Field(None, gt=0, le=65536, description="finetune with LoRA adapters of this rank "
                                  "(frozen base weights); unset: all weights trained")
    seq_len: int | None = Field(None, gt=0)
    image_size: int | None = Field(None, gt=0)
    micro_batch: int = Field(1, gt=0)
    global_batch: int | None = Field(None, gt=0)
    precisions: list[Literal["fp32", "tf32", "bf16", "fp16", "fp8"]] = Field(
        default_factory=lambda: ["fp32", "bf16"], min_length=1)
    targets: Targets = Field(default_factory=Targets)
    candidates: CandidatesSpec | None = Field(None, description="limits on the hardware the planner may propose")
    meta_only: bool = False
    proxy: ProxySpec | None = Field(None, description="runnable stand-in measured in place of a meta-only model")
    trust_code: bool = False
    base_dir: str = Field(".", description="directory relative paths resolve against (set by the loader)")

    @field_validator("name")
    @classmethod
    def _name_is_a_label(cls, v: str) -> str:
        return check_label(v, NAME_MAX)

    @field_validator("description", "source")
    @classmethod
    def _text_is_printable(cls, v: str | None) -> str | None:
        return None if v is None else check_label(v, TEXT_MAX, lines=True)

    @field_validator("data", mode="before")
    @classmethod
    def _short_data(cls, v: Any) -> Any:
        return {"path": v} if isinstance(v, str) else v

    @field_validator("model")
    @classmethod
    def _model_dict_has_type(cls, v: Any) -> Any:
        if isinstance(v, dict) and "model_type" not in v:
            raise ValueError("an inline Hugging Face config needs a model_type (e.g. llama, gpt2)")
        if isinstance(v, str) and not v.strip():
            raise ValueError("must not be empty")
        return v

    @model_validator(mode="after")
    def _lora_is_finetuning(self) -> "WorkloadSpec":
        if self.lora_rank is not None and self.task != "finetune":
            raise ValueError(f"lora_rank is for task finetune (got task {self.task})")
        return self

    @model_validator(mode="after")
    def _batches(self) -> "WorkloadSpec":
        if self.global_batch is not None and self.global_batch < self.micro_batch:
            raise ValueError(f"global_batch ({self.global_batch}) must be >= micro_batch ({self.micro_batch})")
        return self

    @model_validator(mode="after")
    def _proxy_needs_a_config(self) -> "WorkloadSpec":
        if self.proxy is not None and not (isinstance(self.model, dict) or str(self.model).endswith(".json")):
            raise ValueError("proxy.model_overrides apply to a Hugging Face config (inline dict or config.json)")
        return self

    def proxy_spec(self) -> "WorkloadSpec":
        """The runnable stand-in: overrides applied, not meta-only, named '<name>@proxy'."""
        if self.proxy is None:
            raise RaxError(f"workload {self.name!r} has no proxy block", field="proxy")
        model = self.model if isinstance(self.model, dict) else _read_json_config(self.resolve(self.model))
        return self.model_copy(update={
            "name": f"{self.name}@proxy", "model": {**model, **self.proxy.model_overrides},
            "seq_len": self.proxy.seq_len or self.seq_len, "meta_only": False, "proxy": None,
            "micro_batch": self.proxy.micro_batch or self.micro_batch,
            "global_batch": None})

    @property
    def effective_global_batch(self) -> int:
        return self.global_batch if self.global_batch is not None else self.micro_batch

    def resolve(self, path: str) -> Path:
        """`path` made absolute against the spec's directory (home `~` expanded)."""
        p = user_path(path, "data")
        # realpath, not Path.resolve: a symlink loop is left for the reader's one-line ELOOP error
        return p if p.is_absolute() else Path(os.path.realpath(Path(self.base_dir) / p))


SPEC_BYTES = 4 * 2**20  # a spec is a page of YAML; inline configs included, 4 MiB is generous
NAME_MAX = 120   # a name labels runs, tables, reports and file names: one short line
TEXT_MAX = 4000  # description / source: a paragraph


def check_label(v: str, limit: int, lines: bool = False) -> str:
    """What a spec accepts as a name (or, with `lines`, as free text): 1..limit printable
    characters; no control, format or bidirectional-override characters (they would re-style a
    terminal or make text read differently than it is), no surrounding blanks. Rich markup
    like `[bold]` is allowed: every output shows it as text."""
    if not v.strip():
        raise ValueError("must not be blank")
    if len(v) > limit:
        raise ValueError(f"at most {limit} characters, got {len(v)}")
    bad = next((c for c in v if not c.isprintable() and not (lines and c == "\n")), None)
    if bad is not None:
        raise ValueError(f"contains the control/format character U+{ord(bad):04X}; "
                         f"allowed: printable characters{' and line breaks' if lines else ''}")
    if not lines and v != v.strip():
        raise ValueError("must not start or end with blanks")
    return v


def _read_json_config(path: Path) -> dict[str, Any]:
    from raxlab.workload.hf import read_config_file

    return read_config_file(path)


def _format_validation(exc: ValidationError, where: str) -> RaxError:
    """First pydantic error as one line: the dotted field and what is allowed."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(err["loc"])
        msg = f"unknown key; allowed: {', '.join(allowed)}" if allowed else "unknown key"
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return RaxError(f"{msg}{more} [{where}]", field=loc or "spec")


def _allowed_keys(loc: tuple) -> list[str]:
    model: type[BaseModel] = WorkloadSpec
    for part in loc[:-1]:
        sub = {"targets": Targets, "data": DataSpec, "proxy": ProxySpec, "candidates": CandidatesSpec}.get(str(part))
        if sub is None:
            return []
        model = sub
    return [k for k in model.model_fields if k != "base_dir"]


def parse_spec(data: Any, *, base_dir: str | Path = ".", where: str = "spec") -> WorkloadSpec:
    """Validate a mapping as a WorkloadSpec; errors become one-line RaxErrors."""
    if not isinstance(data, dict):
        raise RaxError(f"a workload spec must be a YAML mapping, got {type(data).__name__} [{where}]")
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise RaxError(f"keys must be text, got {bad[0]!r} ({type(bad[0]).__name__}) [{where}]", field="spec")
    if "base_dir" in data:
        raise RaxError("base_dir is set by the loader, not in the file", field="base_dir")
    safe_yaml.check_size(data, where=where, field="spec")  # before pydantic and JSON walk it recursively
    try:
        return WorkloadSpec(**data, base_dir=os.path.realpath(base_dir))
    except ValidationError as exc:
        raise _format_validation(exc, where) from exc


def load_spec_file(path: str | Path, *, trust_flag: bool = False) -> WorkloadSpec:
    """Read and validate a YAML spec file; relative paths in it resolve against its folder.
    `trust_flag`: --trust-code was given, so the file's own `trust_code: true` is not needed."""

    from raxlab.infile import read_input

    p = user_path(path, "workload")
    if not os.path.lexists(p):
        raise RaxError(f"no such spec file: {p}", field="workload")
    raw = read_input(p, "workload", limit=SPEC_BYTES, what="workload spec")  # no FIFO, device or huge file
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RaxError(f"cannot read spec file {p}: not UTF-8 ({exc.reason} at byte {exc.start})",
                       field="workload") from None
    data = safe_yaml.load(text, where=str(p), field="workload")
    spec = parse_spec(data, base_dir=Path(os.path.realpath(p)).parent, where=str(p))
    if spec.trust_code and not trust_flag:
        _check_trusted_file(p)
    return spec


def _check_trusted_file(p: Path) -> None:
    """`trust_code: true` counts only in a spec you wrote: yours (or root's) and writable by no
    one else, so another user on a shared machine cannot make rax run code as you."""
    import os
    import stat

    st = p.stat()
    if st.st_uid not in (os.getuid(), 0) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RaxError(f"{p} sets trust_code: true but is owned by uid {st.st_uid} with mode"
                       f" {stat.S_IMODE(st.st_mode):o}; only a spec that you own and no one else can write may"
                       " allow running code (chmod go-w it), or pass --trust-code", field="trust_code")
