"""Which workload a plan was made for, so that `rax accept` measures that one and no other.

`identity(ref)` is what a plan records: a spec file by its absolute path (symbolic links
resolved) and the SHA-256 of its bytes, a preset by its name (`workload_sha256` null).
`check_identity(...)` is what `rax accept` runs before measuring: from any directory the
absolute path finds the same file, and a file that changed since the plan was made (other
model, other batch: other numbers) is refused in one line instead of being measured against
a projection it no longer matches.
"""

from __future__ import annotations

import hashlib
import os

from raxlab.errors import RaxError
from raxlab.workload.paths import path_kind, user_path
from raxlab.workload.presets import PROXY_SUFFIX


def _split(ref: str) -> tuple[str, str]:
    """(spec path or preset, '@proxy' or ''), as `presets.resolve_spec` reads a ref."""
    if ref.endswith(PROXY_SUFFIX) and path_kind(user_path(ref, "workload"), "workload") is None:
        return ref[: -len(PROXY_SUFFIX)], PROXY_SUFFIX
    return ref, ""


def digest(path: str) -> str:
    from raxlab.infile import read_input
    from raxlab.workload.spec import SPEC_BYTES

    return hashlib.sha256(read_input(path, "workload", limit=SPEC_BYTES, what="workload spec")).hexdigest()


def identity(ref: str) -> dict:
    """{"workload": absolute spec path or preset name, "workload_ref": as typed, "workload_sha256"}."""
    base, suffix = _split(ref)
    path = user_path(base, "workload")
    if path_kind(path, "workload") != "file":
        return {"workload": ref, "workload_ref": ref, "workload_sha256": None}
    real = os.path.realpath(path)
    return {"workload": real + suffix, "workload_ref": ref, "workload_sha256": digest(real)}


def check_identity(workload: str, sha256: str | None, where: str) -> None:
    """RaxError (field PLAN) unless `workload` names what the plan was made for."""
    base, _ = _split(workload)
    if sha256 is None:
        if os.sep in base or base.endswith((".yaml", ".yml")):
            if not os.path.isabs(base):
                raise RaxError(f"{where} names its workload by a relative path ({base!r}, relative to wherever "
                               "rax plan ran) and no content hash (an older rax plan): re-run rax plan to record the "
                               "absolute path and hash", field="PLAN")
        return
    if path_kind(user_path(base, "workload"), "workload") != "file":
        raise RaxError(f"{where} was made for the workload spec {base!r}, which is not there any more; restore it or "
                       "re-run rax plan", field="PLAN")
    now = digest(base)
    if now != sha256:
        raise RaxError(f"{where} was made for another version of {base!r} (sha256 {sha256[:12]}... in the plan, "
                       f"{now[:12]}... now): the projection does not match it; restore that spec or re-run rax plan",
                       field="PLAN")
