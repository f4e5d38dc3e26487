#!/bin/sh
# Make headless Chromium available for the report's PDF output and the browser test.
# Idempotent: does nothing when a Chromium is already there. Installs with apt only when
# running as root on a Debian/Ubuntu host; otherwise says how and exits 0, so `make test`
# still runs (the browser test then skips with the reason).
set -eu

for exe in "${RAX_CHROMIUM:-}" /usr/bin/chromium chromium chromium-browser google-chrome google-chrome-stable; do
    [ -n "$exe" ] || continue
    if command -v "$exe" >/dev/null 2>&1; then
        exit 0
    fi
done

if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: no Chromium found; install it (as root: apt-get install -y chromium) for PDF reports" \
         "and the browser test" >&2
    exit 0
fi

echo "ensure_chromium: installing chromium with apt-get (once)" >&2
export DEBIAN_FRONTEND=noninteractive
# A stale package index makes the install fail with 404s: refresh it first, then retry once.
apt-get install -y chromium >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y chromium >/dev/null
}
command -v chromium >/dev/null 2>&1 && echo "ensure_chromium: $(chromium --version 2>/dev/null)" >&2
exit 0
