"""Every file RA:X writes at a user-chosen path goes through `raxlab.outfile`: atomic for
regular files, never through a symbolic link, never over a device, FIFO, socket or directory,
one-line errors (issue 20: `rax report --out /dev/full` replaced the device node; `rax plan
--out LINK` truncated the link's target in place)."""

from __future__ import annotations

import ast
import os
import socket
import stat
from pathlib import Path

import pytest

from raxlab.errors import RaxError
from raxlab.outfile import atomic_path, write_file
from raxlab.store import Store
from tests.conftest import is_root
from tests.reliability.conftest import assert_cli_error, cli

SRC = Path(__file__).resolve().parents[2] / "src" / "raxlab"


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg
    return msg


def test_replaces_a_regular_file_atomically_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    write_file(target, "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["out.json"]
    assert stat.S_IMODE(target.stat().st_mode) & 0o077 == 0o044 & ~_umask()


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_a_symlink_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / "victim.conf"
    victim.write_text("precious")
    link = tmp_path / "plan.json"
    link.symlink_to(victim)
    with pytest.raises(RaxError) as exc:
        write_file(link, "junk")
    assert "symbolic link" in _one_line(exc)
    assert victim.read_text() == "precious" and link.is_symlink()
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(RaxError, match="symbolic link"):
        write_file(dangling, "junk")
    assert not (tmp_path / "nowhere").exists()


def _special_files(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock.json"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    sock.close()
    out = {"FIFO": fifo, "socket": sock_path, "directory": tmp_path}
    if is_root():  # a character device under an ordinary name: the same as /dev/full (1, 7)
        dev = tmp_path / "report.html"
        os.mknod(dev, stat.S_IFCHR | 0o600, os.makedev(1, 7))
        out["character device"] = dev
    return out


def test_devices_fifos_sockets_and_directories_are_refused_and_kept(tmp_path):
    for what, path in _special_files(tmp_path).items():
        before = os.lstat(path)
        with pytest.raises(RaxError) as exc:
            write_file(path, "x" * 10)
        assert what in _one_line(exc), what
        after = os.lstat(path)
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino), what
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_os_errors_are_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    for bad, word in ((blocker / "x.json", "not a directory"), (blocker / "d" / "x.json", "directory"), (tmp_path / ("n" * 300), "too long"),
                      ("a\0b", "file name"), ("~no-such-user-rax/x", "no-such-user-rax")):
        with pytest.raises(RaxError) as exc:
            write_file(bad, "x")
        assert word in _one_line(exc), bad


@pytest.mark.skipif(is_root(), reason="root ignores directory permissions")
def test_a_directory_without_write_permission_is_one_line(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    with pytest.raises(RaxError, match="Permission denied"):
        write_file(ro / "x.json", "x")


def test_a_failing_producer_keeps_the_old_file(tmp_path):
    target = tmp_path / "r.pdf"
    target.write_text("old")
    with pytest.raises(RaxError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RaxError("the browser failed")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["r.pdf"]


# -- through the commands ---------------------------------------------------------------

@pytest.fixture
def one_run(tmp_path):
    st = Store(tmp_path / "rax.db")
    rid = st.new_run("compute", workload="w")
    st.finish_run(rid)
    return str(st.path), rid


def test_report_and_export_refuse_specials_and_links(one_run, tmp_path):
    db, rid = one_run
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "link.html").symlink_to(victim)
    (tmp_path / "sp").mkdir()
    targets = [*_special_files(tmp_path / "sp").values(), tmp_path / "link.html"]
    for path in targets:
        for argv in (("report", rid, "--format", "md"), ("runs", "export", rid, "--format", "csv")):
            code, _, err = cli(*argv, "--store", db, "--out", path)
            assert_cli_error(code, err)
    assert victim.read_text() == "precious"


def test_plan_out_through_a_symlink_is_refused_before_planning(tmp_path):
    victim = tmp_path / "passwd"
    victim.write_text("root:x:0:0")
    link = tmp_path / "plan.json"
    link.symlink_to(victim)
    code, _, err = cli("plan", "tiny-lm", "--accelerators", "h100-sxm", "--fabrics", "tcp-25",
                       "--catalog-override", "none", "--out", link)
    assert "symbolic link" in assert_cli_error(code, err)
    assert victim.read_text() == "root:x:0:0"


def test_launch_script_out_through_a_symlink_is_refused(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    link = tmp_path / "job.sbatch"
    link.symlink_to(victim)
    code, _, err = cli("launch", "--slurm", "--nnodes", "2", "--out", link, "--", "rax", "bench", "ddp", "tiny-lm")
    assert "symbolic link" in assert_cli_error(code, err)
    assert victim.read_text() == "keep"


# -- static audit: no other writer of files in the package -----------------------------

ALLOWED = {  # internal files RA:X creates itself in its own private temp/run folders
    "outfile.py", "measure/abtest_arms.py", "measure/comm/launch.py",
}


def _writes(tree: ast.AST):
    """(line, what) of each call that writes a file: Path.write_text/bytes, os.replace/rename,
    open(..., mode with w/a/x/+)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        owner = getattr(f.value, "id", "") if isinstance(f, ast.Attribute) else ""
        if name in ("write_text", "write_bytes") or (owner == "os" and name in ("replace", "rename")):
            yield node.lineno, f"{owner or '...'}.{name}"
        mode = node.args[1] if name == "open" and len(node.args) > 1 else None
        if isinstance(mode, ast.Constant) and isinstance(mode.value, str) and set(mode.value) & set("wax+"):
            yield node.lineno, f"open(..., {mode.value!r})"


def test_no_module_writes_files_but_through_outfile():
    bad = [f"{rel}:{line} {what}" for path in SRC.rglob("*.py")
           if (rel := path.relative_to(SRC).as_posix()) not in ALLOWED
           for line, what in _writes(ast.parse(path.read_text(), rel))]
    assert not bad, "write files at user paths through raxlab.outfile.write_file: " + ", ".join(bad)


def test_pdf_goes_through_the_writer_with_a_stand_in_browser(one_run, tmp_path, monkeypatch):
    """A stand-in for Chromium that prints a PDF-looking file where --print-to-pdf says: the PDF is
    committed atomically, and refused over a FIFO before the browser starts."""
    fake = tmp_path / "chromium"
    fake.write_text('#!/bin/sh\nfor a; do case "$a" in --print-to-pdf=*) f="${a#--print-to-pdf=}";; esac; done\n'
                    'printf "%%PDF-1.4\\n%0200d\\n" 0 > "$f"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("RAX_CHROMIUM", str(fake))
    db, rid = one_run
    code, out, err = cli("report", rid, "--format", "pdf", "--store", db, "--out", tmp_path / "r.pdf")
    assert code == 0, err
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    os.mkfifo(tmp_path / "f.pdf")
    code, _, err = cli("report", rid, "--format", "pdf", "--store", db, "--out", tmp_path / "f.pdf")
    assert "FIFO" in assert_cli_error(code, err)


# -- fuzz: any kind of thing at the target, any name, any content ---------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.reliability.fuzzkit import check, fuzz  # noqa: E402

TARGETS = ("absent", "regular", "symlink", "dangling symlink", "symlink loop", "fifo", "socket", "directory",
           "file as parent", "missing parents", *(["char device"] if is_root() else []))


def _make_target(d: Path, kind: str, name: str) -> Path:
    p = d / name
    if kind == "regular":
        p.write_text("old")
    elif kind == "symlink":
        (d / "victim").write_text("precious")
        p.symlink_to(d / "victim")
    elif kind == "dangling symlink":
        p.symlink_to(d / "nowhere")
    elif kind == "symlink loop":
        p.symlink_to(p.name)
    elif kind == "fifo":
        os.mkfifo(p)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(p))
        s.close()
    elif kind == "directory":
        p.mkdir()
    elif kind == "char device":
        os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(1, 7))
    elif kind == "file as parent":
        p.write_text("")
        return p / "x"
    elif kind == "missing parents":
        return d / "a" / "b" / name
    return p


@fuzz(0.5)
@given(kind=st.sampled_from(TARGETS), name=st.text(st.characters(codec="utf-8", exclude_characters="/\0"),
                                                    min_size=1, max_size=40),
       data=st.binary(max_size=64) | st.text(max_size=64))
def test_fuzz_any_target(kind, name, data, tmp_path_factory):
    d = tmp_path_factory.mktemp("out")
    name = name if name not in (".", "..") else "x"
    try:
        target = _make_target(d, kind, name)
    except OSError:  # a name this file system refuses to create
        return
    got = check("outfile", write_file, target, data)
    if kind in ("absent", "regular", "missing parents"):
        if isinstance(got, RaxError):  # only the name itself can be refused (too long, not decodable)
            assert "name" in str(got) or "long" in str(got), str(got)
            return
        written = target.read_bytes()
        assert written == (data.encode("utf-8") if isinstance(data, str) else data)
    else:
        assert isinstance(got, RaxError), f"wrote over a {kind}"
    if (d / "victim").exists():
        assert (d / "victim").read_text() == "precious"
    assert not [n for n in os.listdir(d) if n.endswith(".tmp")]
