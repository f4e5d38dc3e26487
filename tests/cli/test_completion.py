"""`rax completion bash|zsh`: generated from the argument parser; checked by running bash's own
completion machinery (COMP_WORDS / COMP_CWORD) on the script."""

import shutil
import subprocess

import pytest

from raxlab.cli.completion import script, tree

CASES = [
    (["rax", "pre"], {"predict", "presets"}),
    (["rax", "bench", "c"], {"comm", "compute"}),
    (["rax", "predict", "--tp"], {f for f in tree()["flags"]["predict"] if f.startswith("--tp")}),
    (["rax", "report", "--format", ""], {"html", "md", "json", "pdf"}),
    (["rax", "predict", "llama3-7"], {"llama3-70b"}),
    (["rax", "import", ""], {"nccl-tests", "train-log"}),
]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize("words, expected", CASES, ids=lambda c: " ".join(c) if isinstance(c, list) else "")
def test_bash_completes_from_the_parser(words, expected, tmp_path):
    path = tmp_path / "rax.bash"
    path.write_text(script("bash"))
    probe = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _rax; printf "%s\\n" "${COMPREPLY[@]}"'
    out = subprocess.run(["bash", "-c", probe, "_", str(path), *words], capture_output=True, text=True, check=True)
    assert set(out.stdout.split()) == expected


def test_every_flag_of_the_parser_is_in_the_script():
    t, text = tree(), script("bash")
    assert t["flags"]["bench comm"] and all(f in text for opts in t["flags"].values() for f in opts)
    assert script("zsh").startswith("# rax completion for zsh") and "bashcompinit" in script("zsh")
