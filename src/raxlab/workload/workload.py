"""`Workload`: a spec resolved into a buildable model and a readable data sample.

This is the interface the measurement layer uses (see `raxlab.workload` for the contract).
"""

from __future__ import annotations

import time
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from raxlab.errors import RaxError
from raxlab.workload import hf
from raxlab.workload.images import ImageFolderReader
from raxlab.workload.models import ModelSource, resolve_model
from raxlab.workload.presets import PROXY_SUFFIX, is_sample_name, resolve_spec, sample_path  # noqa: F401
from raxlab.workload.readers import KIND_OF_FORMAT, TableReader, TensorReader, TokenReader, data_format, open_tokens
from raxlab.workload.spec import WorkloadSpec

DEFAULT_IMAGE_SIZE = 224  # torchvision/timm ImageNet default
ITEM_CACHE = 4096          # decoded samples kept for make_batch; larger samples decode on demand


def load_workload(ref: str, *, trust_code: bool = False, proxy: bool = False) -> "Workload":
    """A Workload from a spec file path or a preset name; `proxy=True` (or the suffix '@proxy' on
    the reference, which every command and launcher passes through unchanged) gives its runnable
    stand-in."""
    spec, suffixed = resolve_spec(ref, trust_code)
    if proxy and not suffixed:
        spec = spec.proxy_spec()
    return Workload(spec, trust_code=trust_code)


class Workload:
    """Model + data sample + task, ready to build, batch and step. See the package docstring."""

    def __init__(self, spec: WorkloadSpec, *, trust_code: bool = False):
        self.spec = spec
        self.name = spec.name
        self.meta_only = spec.meta_only
        trust = "--trust-code" if trust_code else "trust_code: true in the spec" if spec.trust_code else False
        self.source: ModelSource = resolve_model(spec.model, args=spec.model_args, base_dir=Path(spec.base_dir),
                                                 trust_code=trust)
        self.data_path = self._resolve_data()
        self.data_format = data_format(self.data_path)
        self.kind = self._decide_kind()
        self._check_shapes()
        self._items: dict[int, dict[str, torch.Tensor]] = {}
        self._weight_bytes: dict[tuple, int] = {}

    def __repr__(self) -> str:
        return f"Workload({self.name!r}, kind={self.kind!r}, model={self.source.ref!r}, data={self.data_path.name!r})"

    # ------------------------------------------------------------ resolution
    def _resolve_data(self) -> Path:
        ref = self.spec.data.path
        if is_sample_name(ref):
            return sample_path(ref)
        return self.spec.resolve(ref)

    def _decide_kind(self) -> str:
        by_model, by_data = self.source.kind, KIND_OF_FORMAT[self.data_format]
        kind = self.spec.kind or by_model or by_data
        if by_model and kind != by_model:
            raise RaxError(f"{kind!r} contradicts the model ({self.source.ref} is a {by_model} model)", field="kind")
        return kind

    def _check_shapes(self) -> None:
        cfg = self.config
        if self.kind == "lm":
            if self.spec.seq_len is None:
                raise RaxError("required for a language model (tokens per sample)", field="seq_len")
            top = hf.max_positions(cfg) if cfg is not None else None
            if top is not None and self.spec.seq_len > top:
                raise RaxError(f"{self.spec.seq_len} exceeds the model's max_position_embeddings {top}",
                               field="seq_len")
        fixed = getattr(cfg, "image_size", None) if self.kind == "vision" and cfg is not None else None
        if fixed and self.spec.image_size and self.spec.image_size != fixed:
            raise RaxError(f"{self.spec.image_size} differs from the model config's image_size {fixed}",
                           field="image_size")

    @property
    def config(self):
        """The transformers config for Hugging Face models, else None."""
        return self.source.config

    @property
    def tokens_per_sample(self) -> int | None:
        return self.spec.seq_len if self.kind == "lm" else None

    @property
    def image_size(self) -> int | None:
        if self.kind != "vision":
            return None
        return self.spec.image_size or getattr(self.config, "image_size", None) or DEFAULT_IMAGE_SIZE

    @property
    def layer_shape(self) -> dict[str, Any] | None:
        return hf.layer_shape(self.config, self.spec.seq_len) if self.config is not None else None

    # ------------------------------------------------------------ model
    def build_model(self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, *,
                    num_layers: int | None = None) -> torch.nn.Module:
        """A fresh model; `device="meta"` allocates no weights; `num_layers` overrides HF depth."""
        if self.meta_only and torch.device(device).type != "meta":
            raise RaxError(f"workload {self.name!r} is meta_only: it can be carded (device='meta') but not"
                           f" built on {device}", field="meta_only")
        if num_layers is not None and self.config is None:
            raise RaxError("num_layers applies to Hugging Face transformer configs only", field="model")
        if torch.device(device).type != "meta":
            self._check_fits(device, dtype, num_layers)
        model = self.source.build(device, dtype, num_layers)
        return model.train(self.spec.task != "infer")

    def _check_fits(self, device, dtype: torch.dtype, num_layers: int | None) -> None:
        """Refuse, in one line, to allocate weights that cannot fit where they would go: a valid but
        absurd config (hidden_size 262144) must fail now, not thrash the machine or get OOM-killed.
        Sized on meta tensors (free); user factories are not built twice just for this."""
        if self.source.origin == "factory":
            return
        key = (str(dtype), num_layers)
        if key not in self._weight_bytes:
            meta = self.source.build("meta", dtype, num_layers)
            self._weight_bytes[key] = sum(p.numel() * p.element_size() for p in meta.parameters())
        need, free = self._weight_bytes[key], _free_bytes(torch.device(device))
        if free is not None and need > free:
            raise RaxError(f"the model's weights alone are {need / 2**30:,.1f} GiB in {str(dtype).removeprefix('torch.')},"
                           f" more than the {free / 2**30:,.1f} GiB free on {device}; characterise it with `rax card`"
                           " (meta tensors, no memory) or measure a proxy (meta_only: true and a proxy block)",
                           field="model")

    @cached_property
    def expectations(self) -> dict[str, Any]:
        """What the model accepts (vocab, channels, features, classes), for data-fit checks."""
        if self.config is not None:
            return hf.input_expectations(self.config, self.kind)
        try:
            model = self.source.build("meta", torch.float32)
        except RaxError:
            raise
        except Exception:  # a factory that cannot build on meta: skip the early checks
            return {}
        return _module_expectations(model)

    # ------------------------------------------------------------ data
    @cached_property
    def reader(self):
        """The opened data sample (checked against the model on first use)."""
        exp, data, path, fmt = self.expectations, self.spec.data, self.data_path, self.data_format
        if self.kind == "lm":
            r = open_tokens(path, fmt, data, self.spec.seq_len, short_ok=self.meta_only)
            r.check_vocab(exp.get("vocab"))
        elif self.kind == "vision" and fmt == "images":
            r = ImageFolderReader(path, self.image_size, exp.get("in_channels"))
            r.check_classes(exp.get("num_classes"))
            r.item(0)  # decode one image now: channel mismatches surface at load, not mid-run
        elif self.kind == "tabular" and fmt == "table":
            r = TableReader(path, data)
            r.check_features(exp.get("in_features"))
        elif fmt == "tensors":
            r = TensorReader(path, data, self.kind)
            if self.kind == "tabular":
                r.check_features(exp.get("in_features"))
            elif self.kind == "vision":
                r.check_image(exp.get("in_channels"))
        else:
            raise RaxError(f"a {self.kind} workload cannot read a {fmt} sample ({path.name})", field="data")
        return r

    def _item(self, i: int) -> dict[str, torch.Tensor]:
        if i in self._items:
            return self._items[i]
        item = self.reader.item(i)
        if len(self._items) < ITEM_CACHE:
            self._items[i] = item
        return item

    def make_batch(self, batch_size: int, device: str | torch.device = "cpu", seed: int = 0) -> dict[str, torch.Tensor]:
        """A real batch from the sample (seeded; drawn with replacement when the sample is small)."""
        if batch_size < 1:
            raise RaxError(f"must be >= 1, got {batch_size}", field="batch_size")
        r, gen = self.reader, torch.Generator().manual_seed(seed)
        if isinstance(r, TokenReader):
            batch = r.random_batch(batch_size, gen)
        else:
            idx = (torch.randperm(r.n, generator=gen)[:batch_size] if batch_size <= r.n
                   else torch.randint(0, r.n, (batch_size,), generator=gen))
            batch = torch.utils.data.default_collate([self._item(i) for i in idx.tolist()])
        return {k: v.to(device) for k, v in batch.items()}

    def dataset(self) -> torch.utils.data.Dataset:
        """A map-style Dataset decoding each sample from disk on access (for DataLoader tests)."""
        return SampleDataset(self.reader)

    @property
    def sample_bytes_per_sample(self) -> float:
        r = self.reader
        if isinstance(r, TokenReader):  # a sample is seq_len tokens of the packed stream
            if r.bytes_per_token and r.text_bytes:  # seq_len BPE tokens of this text, as stored on disk
                return r.bytes_on_disk * r.seq_len * r.bytes_per_token / r.text_bytes
            return r.bytes_on_disk * r.seq_len / r.tokens.numel()
        return r.bytes_on_disk / r.n

    @property
    def tokenizer_note(self) -> str | None:
        """How bytes per token were counted (card note): a BPE trained on the sample, or why not."""
        r = self.reader
        return getattr(r, "tokenizer_note", None) if isinstance(r, TokenReader) else None

    @cached_property
    def decode_s_per_sample(self) -> float:
        """Measured here: whole-file load time spread over the samples + mean per-item decode."""
        r = self.reader
        k = min(r.n, 16)
        if k == 0:  # a meta-only model's sample shorter than one sequence: nothing to decode per sample
            return None
        t0 = time.perf_counter()
        for i in range(k):
            r.item(i)
        return r.load_s / r.n + (time.perf_counter() - t0) / k

    # ------------------------------------------------------------ steps
    def loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Scalar training loss; a step is loss -> backward -> optimizer.step."""
        from raxlab.workload import steps

        return steps.loss(self, model, batch)

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Inference forward: logits (LM: [B, S, V]; vision/tabular: [B, classes])."""
        from raxlab.workload import steps

        return steps.forward(self, model, batch)


def _free_bytes(device: torch.device) -> int | None:
    """Memory free for new tensors on `device` (None: cannot tell)."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.mem_get_info(device)[0])
        if device.type == "cpu":
            import psutil

            return int(psutil.virtual_memory().available)
    except Exception:  # no driver, no /proc: do not guess
        return None
    return None


class SampleDataset(torch.utils.data.Dataset):
    def __init__(self, reader):
        self.reader = reader

    def __len__(self) -> int:
        return self.reader.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not 0 <= i < self.reader.n:
            raise IndexError(i)
        return self.reader.item(i)


def _module_expectations(model: torch.nn.Module) -> dict[str, Any]:
    """First conv's in_channels / first linear's in_features and last linear's out_features."""
    convs = [m for m in model.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)]
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    out: dict[str, Any] = {}
    if convs:
        out["in_channels"] = convs[0].in_channels
    elif linears:
        out["in_features"] = linears[0].in_features
    if linears:
        out["num_classes"] = linears[-1].out_features
    return out
