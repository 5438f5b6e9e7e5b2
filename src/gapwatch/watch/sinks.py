"""Alert sinks and the alert state that makes every finding alert once per run.

* :class:`CommandSink` (``--notify CMD``): runs ``CMD`` through the shell with the event's JSON on stdin.
* :class:`WebhookSink` (``--webhook URL``): POSTs ``{"text": …, "content": …, "gapwatch": event}``, a body
  Slack and Teams incoming webhooks (``text``) and Discord webhooks (``content``) accept, with retries and
  exponential backoff (a ``Retry-After`` header on 429/503 is honoured).
* :class:`AlertState`: which alerts were delivered, per run, in a small JSON file written atomically, so a
  restarted watch does not alert again.

A sink that fails raises :class:`SinkError` (one line); the watch reports it as an ``error`` event and retries
the alert at the next poll.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import InputError, UsageError
from ..io import atomic_write_text
from .events import summary, to_line

STATE_SCHEMA = "gapwatch.watch-state/1"


class SinkError(Exception):
    """An alert could not be delivered (message is one line)."""


class Sink(Protocol):
    name: str

    def send(self, event: dict[str, Any]) -> None: ...


@dataclass
class CommandSink:
    """Run ``command`` (through ``/bin/sh``) with the event JSON on stdin.

    Args:
        timeout: seconds the command may run before it counts as failed (> 0).
    """

    command: str
    timeout: float = 30.0
    name: str = "notify"

    def __post_init__(self) -> None:
        if not self.command.strip():
            raise UsageError("--notify: empty command")
        if not self.timeout > 0:
            raise UsageError(f"notify timeout must be > 0 seconds, got {self.timeout!r}")

    def send(self, event: dict[str, Any]) -> None:
        try:
            r = subprocess.run(self.command, shell=True, input=to_line(event) + "\n", text=True,  # noqa: S602
                               capture_output=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise SinkError(f"--notify command timed out after {self.timeout:g} s") from None
        except OSError as exc:
            raise SinkError(f"--notify command could not be started: {exc}") from None
        if r.returncode != 0:
            err = (r.stderr or "").strip().splitlines()
            tail = f": {err[-1][:200]}" if err else ""
            raise SinkError(f"--notify command exited with {r.returncode}{tail}")


@dataclass
class WebhookSink:
    """POST events as JSON to ``url`` (Slack-, Discord- and Teams-compatible body).

    Args:
        attempts: tries per alert (>= 1); the waits between them are ``backoff * 2**i`` seconds.
        backoff: first wait in seconds (>= 0).
        timeout: seconds per HTTP request (> 0).
    """

    url: str
    attempts: int = 4
    backoff: float = 0.5
    timeout: float = 10.0
    name: str = "webhook"

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise UsageError(f"--webhook must be an http:// or https:// URL, got {self.url!r}")
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise UsageError(f"webhook attempts must be an integer >= 1, got {self.attempts!r}")
        if not self.backoff >= 0:
            raise UsageError(f"webhook backoff must be >= 0 seconds, got {self.backoff!r}")
        if not self.timeout > 0:
            raise UsageError(f"webhook timeout must be > 0 seconds, got {self.timeout!r}")

    def body(self, event: dict[str, Any]) -> bytes:
        text = "gapwatch " + summary(event)
        return json.dumps({"text": text, "content": text[:2000], "gapwatch": event}, allow_nan=False).encode()

    def send(self, event: dict[str, Any]) -> None:
        data = self.body(event)
        last = ""
        for i in range(self.attempts):
            req = urllib.request.Request(self.url, data=data, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "gapwatch-watch"})
            wait = self.backoff * 2 ** i
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - user's URL
                    resp.read()
                return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code} {exc.reason}"
                if exc.code not in (408, 425, 429) and exc.code < 500:
                    break  # the request itself is wrong: retrying will not help
                ra = exc.headers.get("Retry-After") if exc.headers else None
                if ra and ra.strip().isdigit():
                    wait = max(wait, float(ra))
            except (urllib.error.URLError, OSError) as exc:
                last = str(getattr(exc, "reason", exc))
            if i + 1 < self.attempts:
                time.sleep(wait)
        raise SinkError(f"--webhook {self.url}: not delivered after {self.attempts} attempt(s) ({last})")


class AlertState:
    """Alerts already delivered: ``{run: [alert key, …]}`` in a JSON file (None: kept in memory only)."""

    def __init__(self, path: Path | None, inputs: Sequence[Path] = ()) -> None:
        self.path = path
        self.inputs = tuple(inputs)  # what is watched: the state file never replaces it
        self.sent: dict[str, set[str]] = {}
        if path is not None and path.is_file():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"watch state file is not readable JSON ({exc}); delete it to start afresh",
                             path=path) from None
        ok = isinstance(doc, dict) and doc.get("schema") == STATE_SCHEMA and isinstance(doc.get("sent"), dict)
        if not ok:
            raise InputError(f"not a {STATE_SCHEMA} state file (expected keys 'schema' and 'sent'); delete "
                             "it to start afresh", path=path)
        self.sent = {str(r): {str(k) for k in ks} for r, ks in doc["sent"].items() if isinstance(ks, list)}

    def seen(self, run: str, key: str) -> bool:
        return key in self.sent.get(run, set())

    def mark(self, run: str, key: str) -> None:
        self.sent.setdefault(run, set()).add(key)

    def save(self) -> None:
        if self.path is None:
            return
        doc = {"schema": STATE_SCHEMA, "sent": {r: sorted(k) for r, k in sorted(self.sent.items())}}
        atomic_write_text(self.path, json.dumps(doc, indent=1) + "\n", overwrite=True, inputs=self.inputs)
