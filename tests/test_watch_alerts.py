"""Alert sinks of ``gapwatch watch``: a real local HTTP server (up, flaky, down), a real shell command, and the
state file that keeps a restarted watch from alerting twice."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_watch import csv_text, u_rows

from gapwatch.errors import InputError, UsageError
from gapwatch.findings import Severity
from gapwatch.watch import AlertState, CommandSink, SinkError, Watcher, WatchOptions, WebhookSink
from gapwatch.watch.core import default_state_path


class _Server:
    """An HTTP server on 127.0.0.1 that records POST bodies and answers ``fail_first`` requests with 503."""

    def __init__(self, fail_first: int = 0, status: int = 503) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.requests = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                outer.requests += 1
                if outer.requests <= fail_first:
                    self.send_response(status)
                    self.end_headers()
                    return
                outer.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server() -> Any:
    s = _Server()
    yield s
    s.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _log(tmp_path: Path) -> Path:
    p = tmp_path / "run.csv"
    p.write_text(csv_text(u_rows()))
    return p


def test_webhook_delivers_slack_discord_teams_body(tmp_path: Path, server: _Server) -> None:
    p = _log(tmp_path)
    evs: list[dict[str, Any]] = []
    w = Watcher(p, WatchOptions(), sinks=[WebhookSink(server.url, backoff=0.01)],
                state_path=default_state_path(p), emit=evs.append)
    w.run(once=True)
    kinds = sorted(b["gapwatch"]["event"] for b in server.bodies)
    assert kinds == ["finding", "stop"]  # the critical overfitting finding and the stop recommendation
    for b in server.bodies:
        assert b["text"].startswith("gapwatch [") and b["content"] == b["text"]
    assert not any(e["event"] == "error" for e in evs)
    st = json.loads(default_state_path(p).read_text())
    assert st["schema"] == "gapwatch.watch-state/1" and sorted(st["sent"]["run"]) == sorted(
        b["gapwatch"]["alert_key"] for b in server.bodies)
    # a restarted watch replays the log (and prints the events) but does not alert again
    w2 = Watcher(p, WatchOptions(), sinks=[WebhookSink(server.url)], state_path=default_state_path(p))
    w2.run(once=True)
    assert len(server.bodies) == 2


def test_webhook_retries_with_backoff_then_succeeds(tmp_path: Path) -> None:
    s = _Server(fail_first=2)
    try:
        WebhookSink(s.url, attempts=3, backoff=0.01).send({"event": "error", "run": None, "message": "x",
                                                          "time": "t", "schema": "gapwatch.watch/1"})
        assert s.requests == 3 and len(s.bodies) == 1
    finally:
        s.close()


def test_webhook_client_error_is_not_retried(tmp_path: Path) -> None:
    s = _Server(fail_first=10, status=404)
    try:
        with pytest.raises(SinkError, match="HTTP 404"):
            WebhookSink(s.url, attempts=4, backoff=0.01).send({"event": "error", "run": None, "message": "x"})
        assert s.requests == 1
    finally:
        s.close()


def test_server_down_is_an_error_event_and_alert_is_retried_later(tmp_path: Path) -> None:
    p = _log(tmp_path)
    port = _free_port()
    evs: list[dict[str, Any]] = []
    state = default_state_path(p)
    w = Watcher(p, WatchOptions(), sinks=[WebhookSink(f"http://127.0.0.1:{port}/hook", attempts=2, backoff=0.01)],
                state_path=state, emit=evs.append)
    w.run(once=True)
    errs = [e for e in evs if e["event"] == "error"]
    assert errs and all("not delivered after 2 attempt(s)" in e["message"] for e in errs)
    assert len(w.pending) == 2
    assert json.loads(state.read_text())["sent"] == {}
    # a reachable server (the URL fixed): the next poll delivers what is pending
    fixed = _Server()
    try:
        w.sinks = [WebhookSink(fixed.url, backoff=0.01)]
        w.poll()
        assert len(fixed.bodies) == 2 and not w.pending
        assert len(json.loads(state.read_text())["sent"]["run"]) == 2
    finally:
        fixed.close()


def test_notify_command_gets_event_json_on_stdin(tmp_path: Path) -> None:
    p = _log(tmp_path)
    out = tmp_path / "alerts.jsonl"
    w = Watcher(p, WatchOptions(alert_on=Severity.CRITICAL), sinks=[CommandSink(f"cat >> '{out}'")])
    w.run(once=True)
    got = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert sorted(e["event"] for e in got) == ["finding", "stop"]
    assert all(e["schema"] == "gapwatch.watch/1" for e in got)


def test_notify_failure_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="exited with 7: boom"):
        CommandSink("echo boom >&2; exit 7").send({"event": "error", "run": None, "message": "x"})
    with pytest.raises(SinkError, match="timed out"):
        CommandSink("sleep 5", timeout=0.2).send({"event": "error", "run": None, "message": "x"})


def test_sink_and_state_validation(tmp_path: Path) -> None:
    for bad in ("ftp://x", "localhost:80"):
        with pytest.raises(UsageError, match="--webhook"):
            WebhookSink(bad)
    with pytest.raises(UsageError):
        WebhookSink("http://127.0.0.1:1/", attempts=0)
    with pytest.raises(UsageError):
        CommandSink("   ")
    f = tmp_path / "state.json"
    f.write_text("{not json")
    with pytest.raises(InputError, match="state.json.*delete it"):
        AlertState(f)
    f.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(InputError, match="gapwatch.watch-state/1"):
        AlertState(f)


def test_state_file_never_replaces_the_watched_log(tmp_path: Path) -> None:
    """``--state <the watched log>``: the first save is refused and the log is untouched."""
    log = tmp_path / "log.jsonl"
    log.write_text("{}\n")  # valid JSON that the state loader reads as an empty (foreign) document
    st = AlertState(None, inputs=[log])
    st.path = log
    st.mark("r", "k")
    with pytest.raises(UsageError, match="input being analysed"):
        st.save()
    assert log.read_text() == "{}\n"
