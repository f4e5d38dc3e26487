"""PDF from the HTML report with headless Chromium (print CSS decides the pages).

Flags: `--disable-background-networking --disable-component-update --disable-sync
--disable-quic --no-first-run` keep Chromium from calling home (on a closed network it would
otherwise retry and flood it), a fresh `--user-data-dir` per call keeps runs independent,
`--no-sandbox` lets it run as root in CI containers, `--no-pdf-header-footer` drops the
date/URL lines Chromium would print on every page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from raxlab.errors import RaxError
from raxlab.outfile import atomic_path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
QUIET_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-default-apps", "--disable-extensions", "--mute-audio")
TIMEOUT_S = 120.0


def find_chromium() -> str | None:
    """Path of a Chromium-family browser: $RAX_CHROMIUM, /usr/bin/chromium, then PATH."""
    env = os.environ.get("RAX_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return next((p for name in CANDIDATES if (p := shutil.which(name))), None)


def require_chromium() -> str:
    exe = find_chromium()
    if exe is None:
        raise RaxError("PDF needs headless Chromium and none was found (looked for $RAX_CHROMIUM, /usr/bin/chromium, "
                       f"{', '.join(CANDIDATES)} on PATH); install it with `apt-get install chromium`, or use "
                       "--format html and print from a browser", field="--format")
    return exe


def chromium_cmd(exe: str, profile: str, *extra: str) -> list[str]:
    return [exe, *QUIET_FLAGS, f"--user-data-dir={profile}", *extra]


def html_to_pdf(html_path: Path, out: Path, timeout_s: float = TIMEOUT_S) -> Path:
    """Print `html_path` (a file) to `out` atomically."""
    exe = require_chromium()
    with atomic_path(out, field="--out", suffix=".pdf") as tmp, \
            tempfile.TemporaryDirectory(prefix="rax-chromium-") as profile:
        cmd = chromium_cmd(exe, profile, "--no-pdf-header-footer", f"--print-to-pdf={tmp}",
                           html_path.resolve().as_uri())
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise RaxError(f"Chromium did not print the PDF within {timeout_s:g} s", field="--format") from None
        if proc.returncode != 0 or tmp.stat().st_size < 100 or not tmp.read_bytes()[:5] == b"%PDF-":
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            raise RaxError(f"Chromium failed to print the PDF (exit {proc.returncode}): {tail}", field="--format")
    return Path(out).expanduser()


def count_pages(pdf: bytes) -> int:
    """Pages of a PDF: the /Count of the page-tree root (Chromium/Skia writes plain objects)."""
    import re

    counts = [int(m) for m in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf)]
    counts += [int(m) for m in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", pdf)]
    if counts:
        return max(counts)
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
