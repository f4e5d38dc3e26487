"""A minimal Chrome DevTools Protocol client over `--remote-debugging-pipe` (test helper).

Why the pipe and not `--enable-logging=stderr` or `--dump-dom`: the log flag reports console
calls and uncaught exceptions but not failed resource loads (a missing image or a blocked
CDN is a `Log.entryAdded` network error, visible only through DevTools), and `--dump-dom`
cannot measure layout. The pipe needs no port (nothing listens on the network), and one
browser session gives console errors, DOM checks, layout sizes and a screenshot.

Protocol: Chromium reads JSON commands from fd 3 and writes replies/events to fd 4, each
message terminated by a NUL byte.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import tempfile
import time

from raxlab.report.pdf import chromium_cmd


class Browser:
    def __init__(self, exe: str, timeout_s: float = 30.0):
        self.exe, self.timeout_s = exe, timeout_s
        self.events: list[dict] = []
        self._buf, self._id = b"", 0

    def __enter__(self) -> "Browser":
        self._profile = tempfile.TemporaryDirectory(prefix="rax-cdp-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # move the child's ends above 10 so dup2 onto 3 and 4 cannot clobber them
        hi_r, hi_w = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
        os.close(to_chrome_r), os.close(from_chrome_w)

        def child():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        cmd = chromium_cmd(self.exe, self._profile.name, "--remote-debugging-pipe", "--hide-scrollbars", "about:blank")
        self.proc = subprocess.Popen(cmd, preexec_fn=child, close_fds=False, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(hi_r), os.close(hi_w)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(10)
        except Exception:  # the browser may be gone already; make sure it is
            self.proc.kill()
            self.proc.wait(10)
        finally:
            os.close(self._to_chrome), os.close(self._from_chrome)
            self._profile.cleanup()

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        return self._id

    def _pump(self, wait_s: float) -> None:
        ready, _, _ = select.select([self._from_chrome], [], [], wait_s)
        if ready:
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buf += chunk
        while b"\0" in self._buf:
            raw, self._buf = self._buf.split(b"\0", 1)
            self.events.append(json.loads(raw))

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        mid = self.send(method, params, session)
        end = time.monotonic() + self.timeout_s
        while time.monotonic() < end:
            for i, ev in enumerate(self.events):
                if ev.get("id") == mid:
                    self.events.pop(i)
                    if "error" in ev:
                        raise RuntimeError(f"{method}: {ev['error']}")
                    return ev.get("result", {})
            self._pump(0.2)
        raise TimeoutError(f"no reply to {method} within {self.timeout_s} s")

    def wait_event(self, method: str, session: str | None = None) -> dict:
        """The first `method` event of `session` (each tab has its own; earlier tabs' events stay)."""
        end = time.monotonic() + self.timeout_s
        while time.monotonic() < end:
            hit = next((e for e in self.events if e.get("method") == method and e.get("sessionId") == session), None)
            if hit:
                return hit
            self._pump(0.2)
        raise TimeoutError(f"no {method} within {self.timeout_s} s")

    def open(self, url: str, width: int = 1200, height: int = 900) -> str:
        """A new tab on `url`, loaded; returns its session id. Console and log are recorded."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable", session=sid)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, sid)
        self.call("Page.navigate", {"url": url}, sid)
        self.wait_event("Page.loadEventFired", sid)
        self._pump(0.3)  # late console messages and resource errors
        return sid

    def evaluate(self, sid: str, expression: str):
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, sid)
        if "exceptionDetails" in res:
            raise RuntimeError(f"page script failed: {res['exceptionDetails'].get('text')}")
        return res["result"].get("value")

    def screenshot(self, sid: str) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"}, sid)["data"])

    def errors(self) -> list[str]:
        """Console errors/warnings, uncaught exceptions and failed loads seen so far."""
        out = []
        for ev in self.events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append(f"exception: {d.get('text')} {d.get('exception', {}).get('description', '')}")
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                e = p["entry"]
                out.append(f"log[{e.get('source')}]: {e.get('text')} {e.get('url', '')}")
        return out
