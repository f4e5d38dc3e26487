"""Untrusted content: user data is never unpickled, user code runs only when allowed (and
says so), reports keep user strings as text in every format, report files are atomic."""

from __future__ import annotations

import ast
import json
import os
import pickle
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from raxlab.errors import RaxError
from raxlab.store import Store
from raxlab.workload import load_workload
from tests.conftest import is_root
from tests.reliability.conftest import assert_cli_error, cli

SRC = Path(__file__).resolve().parents[2] / "src" / "raxlab"


# -- static audit: every loader of user bytes in the package is a safe one ----------------

def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            yield owner, name, {k.arg: k.value for k in node.keywords}


def _const(node) -> object:
    return node.value if isinstance(node, ast.Constant) else getattr(node, "attr", getattr(node, "id", None))


SAFE_LOADERS = {"SafeLoader", "CSafeLoader", "StrictLoader", "_StrictLoader", "PACKAGE_LOADER"}


def test_the_strict_yaml_loaders_are_safe_loaders():
    import yaml

    from raxlab import safe_yaml
    from raxlab.catalog import loader

    for cls in (safe_yaml.StrictLoader, loader._StrictLoader, safe_yaml.PACKAGE_LOADER):
        assert issubclass(cls, (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


def test_no_unsafe_deserialiser_anywhere_in_the_package():
    bad = []
    for path in SRC.rglob("*.py"):
        for owner, name, kw in _calls(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(SRC)}: {owner}.{name}"
            if owner == "torch" and name == "load" and _const(kw.get("weights_only")) is not True:
                bad.append(where + " without weights_only=True")
            if owner in ("np", "numpy") and name == "load" and _const(kw.get("allow_pickle")) is not False:
                bad.append(where + " without allow_pickle=False")
            if owner in ("pickle", "cPickle", "dill", "joblib", "marshal", "shelve") and name in ("load", "loads", "open"):
                bad.append(where)
            if owner == "yaml" and (name in ("unsafe_load", "full_load") or
                                    name == "load" and _const(kw.get("Loader")) not in SAFE_LOADERS):
                bad.append(where + " with an unsafe Loader")
            if owner == "" and name in ("eval", "exec"):
                bad.append(where)
    assert bad == []


# -- pickles in the data sample are refused, never executed -------------------------------

class Boom:
    """Unpickling this creates `marker`: proof that a pickle was loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _spec(folder: Path, data: str, **extra) -> str:
    spec = {"name": "t", "model": "tiny-mlp", "model_args": {"in_features": 3}, "data": data, "kind": "tabular",
            **extra}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    return str(folder / "spec.yaml")


def test_pickled_npy_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    np.save(tmp_path / "x.npy", np.array([Boom(marker)], dtype=object), allow_pickle=True)
    wl = load_workload(_spec(tmp_path, "x.npy"))
    with pytest.raises(RaxError, match="pickle.*never loads") as err:
        wl.make_batch(2)
    assert "\n" not in str(err.value) and not marker.exists()


def test_torch_pickle_sample_is_refused_and_never_run(tmp_path):
    import torch

    marker = tmp_path / "pwned"
    torch.save({"inputs": Boom(marker)}, tmp_path / "x.pt")
    with pytest.raises(RaxError, match="unsupported sample 'x.pt'.*safetensors"):
        load_workload(_spec(tmp_path, "x.pt"))
    assert not marker.exists()


def test_checkpoint_next_to_a_config_is_never_loaded(tmp_path):
    """A model folder may hold pickled weights; RA:X builds from config.json only."""
    marker = tmp_path / "pwned"
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 16, "num_hidden_layers": 1,
                                                   "num_attention_heads": 2, "intermediate_size": 32,
                                                   "vocab_size": 300, "max_position_embeddings": 64}))
    for name in ("pytorch_model.bin", "model.pt", "training_args.bin"):
        (model / name).write_bytes(pickle.dumps(Boom(marker)))
    spec = {"name": "t", "model": "model", "data": "tiny-text", "seq_len": 16}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    wl = load_workload(str(tmp_path / "spec.yaml"))
    wl.loss(wl.build_model(), wl.make_batch(2)).backward()
    assert not marker.exists()


# -- user code: only when allowed, and rax says so -----------------------------------------

FACTORY = '''
from pathlib import Path
Path(__file__).with_name("imported").touch()          # importing this module is running code

def make(in_features=3):
    import torch
    return torch.nn.Linear(in_features, 2)
'''


@pytest.fixture
def user_code(tmp_path):
    (tmp_path / "usermodel.py").write_text(FACTORY)
    (tmp_path / "t.csv").write_text("a,b,c,label\n" + "".join(f"{i},{i},{i},{i % 2}\n" for i in range(8)))

    def spec(**extra) -> str:
        return _spec(tmp_path, "t.csv", model="usermodel:make", **extra)
    return tmp_path, spec


def test_user_code_is_not_even_imported_without_trust(user_code):
    folder, spec = user_code
    code, _, err = cli("card", spec())
    assert "--trust-code" in assert_cli_error(code, err)
    assert not (folder / "imported").exists()


def test_trust_code_flag_runs_it_and_says_so(user_code):
    folder, spec = user_code
    code, out, err = _fresh_cli("card", spec(), "--trust-code", "--json")
    assert code == 0 and (folder / "imported").exists()
    assert re.search(r"rax: note: the model is built by your own code, usermodel:make .* allowed by --trust-code", err)


def test_trust_code_in_a_spec_you_own(user_code):
    folder, spec = user_code
    path = spec(trust_code=True)
    code, _, err = _fresh_cli("card", path, "--json")
    assert code == 0 and "allowed by trust_code: true in the spec" in err


def test_trust_code_in_a_spec_others_can_write_is_refused(user_code):
    folder, spec = user_code
    path = spec(trust_code=True)
    os.chmod(path, 0o666)
    code, _, err = cli("card", path)
    line = assert_cli_error(code, err)
    assert "trust_code: true but is owned by uid" in line and "mode 666" in line
    assert not (folder / "imported").exists()
    assert _fresh_cli("card", path, "--trust-code", "--json")[0] == 0  # your explicit flag still counts


def _fresh_cli(*argv) -> tuple[int, str, str]:
    """The CLI in a new process: the once-per-command note must not be swallowed by an earlier test."""
    import sys

    proc = subprocess.run([sys.executable, "-m", "raxlab", *map(str, argv)], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "RAX_TRUSTED_CODE_NOTED"}, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


# -- reports: user strings stay text in html, md and json ---------------------------------

EVIL = "<script>alert(1)</script>|`x`](javascript:alert(2)) $(touch pwned); rm -rf ~ \n# head"


@pytest.fixture
def evil_store(tmp_path):
    db = tmp_path / "r.db"
    st = Store(db)
    rid = st.new_run("compute", workload=EVIL, note=EVIL, params={"workload": EVIL})
    st.add_point(rid, "compute", EVIL, "failed", params={"batch": 1, "precision": EVIL}, error=EVIL)
    st.add_point(rid, "compute", "train/fp32/b1", "ok", params={"batch": 1, "precision": "fp32", "mode": "train"},
                 result={"summary": {"median": 0.1}}, samples=[0.1, 0.11])
    st.put_artifact(rid, "card", {"name": EVIL, "model": EVIL})
    st.finish_run(rid)
    return db, rid


def _report(db, rid, fmt, out) -> str:
    code, _, err = cli("report", rid, "--format", fmt, "--store", db, "--out", out)
    assert code == 0, err
    return Path(out).read_text()


def test_reports_keep_user_strings_as_text_in_every_format(evil_store, tmp_path):
    db, rid = evil_store
    html = _report(db, rid, "html", tmp_path / "r.html")
    assert "<script" not in html.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"(href|src)\s*=\s*[\"']?javascript:", html, flags=re.I)
    md = _report(db, rid, "md", tmp_path / "r.md")
    prose = re.sub(r"^(`{3,})[^\n]*\n.*?^\1\s*$", "", md, flags=re.S | re.M)  # code blocks show text as is
    assert "<script" not in prose and "&lt;script&gt;" in prose
    assert not re.search(r"(?<!\\)\]\(javascript:", prose)  # the user's ](...) is never a live link
    doc = json.loads(_report(db, rid, "json", tmp_path / "r.json"))
    assert EVIL in json.dumps(doc, ensure_ascii=False) or EVIL.replace("\n", "\\n") in json.dumps(doc)


def _suggested(text: str, fmt: str) -> list[str]:
    """The text after every `rax <command>` a report suggests, as a reader would copy it."""
    import html as h

    if fmt == "html":
        text = h.unescape(re.sub(r"<[^>]+>", "", text))
    else:
        text = h.unescape(re.sub(r"\\(.)", r"\1", text))  # Markdown backslash escapes
    return [m.group(2) for m in re.finditer(r"rax (plan|bench \w+|card|predict|run|abtest) (.{0,60})", text)]


def test_commands_in_reports_quote_user_strings_for_the_shell(evil_store, tmp_path):
    """A suggested command a user copies must not run `$(...)` or `; rm` from a workload name."""
    db, rid = evil_store
    for fmt in ("html", "md"):
        for rest in _suggested(_report(db, rid, fmt, tmp_path / f"c.{fmt}"), fmt):
            if rest.startswith(EVIL[:8]) or rest.startswith("'" + EVIL[:8]):
                assert rest.startswith("'" + EVIL[:8]), f"{fmt}: unquoted user string in: rax ... {rest}"


# -- report files are atomic -------------------------------------------------------------

@pytest.mark.skipif(not is_root(), reason="needs root to mount a small tmpfs")
def test_report_on_a_full_disk_keeps_the_old_file_and_leaves_no_temp(evil_store, tmp_path):
    db, rid = evil_store
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], check=True)
    try:
        (mnt / "report.html").write_text("old report")
        st = os.statvfs(mnt)
        (mnt / "filler").write_bytes(b"\0" * (st.f_bavail * st.f_frsize - 4096))
        code, _, err = cli("report", rid, "--format", "html", "--store", db, "--out", mnt / "report.html")
        assert "No space left" in assert_cli_error(code, err)
        assert (mnt / "report.html").read_text() == "old report"
        assert sorted(os.listdir(mnt)) == ["filler", "report.html"]
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_report_out_under_an_unknown_users_home_is_a_one_line_error(evil_store):
    db, rid = evil_store
    code, _, err = cli("report", rid, "--store", db, "--out", "~no-such-user-rax/r.html")
    assert "no-such-user-rax" in assert_cli_error(code, err)
