"""Model sources: turn a spec's `model` field into something that builds a fresh model.

Accepted forms, tried in this order:
  1. an inline dict with `model_type`         -> Hugging Face config
  2. `package.module:factory`                  -> user code (only with trust_code)
  3. a built-in name (`small-cnn`, `tiny-mlp`) -> `nets.BUILTINS`
  4. a preset name (`llama3-8b`)               -> that preset's model
  5. a path to config.json or a model folder   -> Hugging Face config
  6. a torchvision / timm architecture name    -> optional `vision` extra
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from raxlab.errors import RaxError, unknown_name
from raxlab.workload import hf
from raxlab.workload.presets import load_preset, preset_names
from raxlab.workload.spec import path_kind, user_path

FACTORY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
VISION_HINT = "install the vision extra: pip install 'raxlab[vision]'"


@dataclass
class ModelSource:
    """How to build the model, plus what is known without building it."""

    origin: str                        # 'hf' | 'builtin' | 'vision' | 'factory'
    ref: str                           # human-readable description
    kind: str | None                   # None: decided by the data (factory models)
    make: Callable[..., Any]           # make(dtype, num_layers) -> nn.Module on the default device
    config: Any = None                 # transformers config for 'hf'
    args: dict[str, Any] = field(default_factory=dict)

    def build(self, device="cpu", dtype=None, num_layers: int | None = None):
        """A fresh model on `device` ('meta' allocates nothing) in `dtype` (floating params)."""
        import torch

        dtype = dtype or torch.float32
        with torch.device(device):
            model = self.make(dtype, num_layers)
        if not isinstance(model, torch.nn.Module):
            raise RaxError(f"{self.ref} returned {type(model).__name__}, expected a torch.nn.Module", field="model")
        return model.to(dtype=dtype) if self.origin != "hf" else model


def resolve_model(ref: str | dict, *, args: dict[str, Any], base_dir: Path, trust_code: bool | str,
                  _depth: int = 0) -> ModelSource:
    if isinstance(ref, dict):
        return _hf_source(hf.make_config(ref), "inline config")
    if FACTORY_RE.match(ref):
        return _factory_source(ref, args, base_dir, trust_code)
    from raxlab.workload.nets import BUILTINS

    if ref in BUILTINS:
        return _builtin_source(ref, args)
    if ref in preset_names() and _depth == 0:
        p = load_preset(ref)
        return resolve_model(p.model, args=p.model_args | args, base_dir=Path(p.base_dir),
                             trust_code=False, _depth=1)
    path = user_path(ref, "model")
    path = path if path.is_absolute() else base_dir / path
    if path_kind(path, "model") or ref.endswith(".json") or "/" in ref:
        return _hf_source(hf.make_config(hf.read_config_file(path)), str(path))
    return _vision_source(ref, args)


def _hf_source(config, ref: str) -> ModelSource:
    kind = hf.hf_kind(config)

    def make(dtype, num_layers):
        cfg = config if num_layers is None else hf.with_layers(config, num_layers)
        return hf.build(cfg, kind, dtype)

    return ModelSource("hf", f"{config.model_type} ({ref})", kind, make, config=config)


def _builtin_source(name: str, args: dict[str, Any]) -> ModelSource:
    from raxlab.workload.nets import BUILTINS

    cls, kind = BUILTINS[name]
    return ModelSource("builtin", name, kind, lambda dtype, n: _call(cls, args, name), args=args)


class UserCodeExit(BaseException):
    """Raised in place of `os._exit` while the user's code runs (see `user_code`); a BaseException so an
    `except Exception` in that code cannot swallow it."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


def _refuse_exit(status=0):
    raise UserCodeExit(status)


@contextlib.contextmanager
def user_code(what: str, should: str = "instead of returning a model; a factory must return a torch.nn.Module"):
    """Run the user's code so that ending the process is an error, not a silent success: a
    `sys.exit()` (SystemExit) or `os._exit()` inside a factory or its module would otherwise end
    `rax` with status 0 and nothing stored. `os._exit` is swapped for a raise while the code runs
    (an exit from C, e.g. through ctypes, is caught by `raxlab.cli.main`'s supervision instead)."""
    real_exit = os._exit
    os._exit = _refuse_exit
    try:
        yield
    except SystemExit as exc:
        raise RaxError(f"{what} called sys.exit({exc.code!r}) {should}", field="model") from None
    except UserCodeExit as exc:
        raise RaxError(f"{what} called os._exit({exc.status!r}) {should}", field="model") from None
    finally:
        os._exit = real_exit


def _call(fn: Callable, args: dict[str, Any], what: str):
    try:
        with user_code(what):
            return fn(**args)
    except TypeError as exc:
        raise RaxError(f"{what}: bad model_args {sorted(args)}: {exc}", field="model_args") from exc
    except RaxError:
        raise
    except Exception as exc:  # the user's code failed: say whose and why, in one line
        raise RaxError(f"{what} raised {type(exc).__name__}: {exc}", field="model") from exc


def _factory_source(ref: str, args: dict[str, Any], base_dir: Path, trust_code: bool | str) -> ModelSource:
    if not trust_code:
        raise RaxError(f"{ref!r} runs your own Python code; allow it with --trust-code"
                       " or `trust_code: true` in the spec", field="model")
    module_name, attr = ref.split(":")
    fn = _import_factory(module_name, attr, base_dir)

    def make(dtype, n):
        model = _call(fn, args, f"factory {ref}")
        _say_trusted(ref, base_dir, trust_code)
        return _guard_forward(model, f"the model from {ref}")

    return ModelSource("factory", f"factory {ref}", None, make, args=args)


def _guard_forward(model, what: str):
    """The user's forward() is user code too: an exit inside it (while rax traces or times it) is an
    error naming the model, not a silent end of rax."""
    forward = getattr(model, "forward", None)
    if forward is None or not callable(forward):
        return model

    should = "in forward(); forward() must return the model's outputs"

    def guarded(*a, **kw):  # user_code inlined: this runs on every timed step, so keep it to a swap
        real = os._exit
        os._exit = _refuse_exit
        try:
            return forward(*a, **kw)
        except SystemExit as exc:
            raise RaxError(f"{what} called sys.exit({exc.code!r}) {should}", field="model") from None
        except UserCodeExit as exc:
            raise RaxError(f"{what} called os._exit({exc.status!r}) {should}", field="model") from None
        finally:
            os._exit = real

    try:
        model.forward = guarded
    except (AttributeError, TypeError):  # a module that forbids new attributes: leave it as it is
        pass
    return model


TRUST_NOTED = "RAX_TRUSTED_CODE_NOTED"  # inherited by point children and ranks: one note per command


def _say_trusted(ref: str, base_dir: Path, why: bool | str) -> None:
    """Say, once per command, that the user's own code built the model and what allowed it."""
    import os

    if os.environ.get(TRUST_NOTED):
        return
    os.environ[TRUST_NOTED] = "1"
    allowed = why if isinstance(why, str) else "--trust-code"
    print(f"rax: note: the model is built by your own code, {ref} (from {base_dir}), allowed by {allowed}",
          file=sys.stderr)


def _import_factory(module_name: str, attr: str, base_dir: Path) -> Callable:
    # The spec's folder goes first on sys.path so a model file next to the spec imports.
    sys.path.insert(0, str(base_dir))
    try:
        with user_code(f"importing {module_name!r}"):
            obj = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except RaxError:
        raise
    except AttributeError:
        raise RaxError(f"module {module_name!r} has no attribute {attr!r}", field="model") from None
    except Exception as exc:  # ImportError, SyntaxError, or whatever the module raises on import
        raise RaxError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}", field="model") from exc
    finally:
        sys.path.remove(str(base_dir))
    if not callable(obj):
        raise RaxError(f"{module_name}:{attr} is not callable", field="model")
    return obj


def _vision_source(name: str, args: dict[str, Any]) -> ModelSource:
    tv, timm = _try_import("torchvision.models"), _try_import("timm")
    if tv is None and timm is None:
        raise RaxError(f"{name!r} is not a built-in model, preset or file; if it is a torchvision/timm"
                       f" architecture, {VISION_HINT}", field="model")
    if tv is not None and name in tv.list_models():
        return ModelSource("vision", f"torchvision {name}", "vision",
                           lambda dtype, n: _call(tv.get_model, {"name": name, "weights": None, **args}, name))
    if timm is not None and timm.is_model(name):
        return ModelSource("vision", f"timm {name}", "vision",
                           lambda dtype, n: _call(timm.create_model, {"model_name": name, "pretrained": False,
                                                                      **args}, name))
    from raxlab.workload.nets import BUILTINS

    known = list(BUILTINS) + preset_names() + (tv.list_models() if tv else [])
    raise unknown_name("model", name, known, field="model")


def _try_import(name: str):
    try:
        return importlib.import_module(name)
    except Exception:  # a broken optional install is the same as no install here
        return None
