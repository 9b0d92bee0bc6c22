"""Updates to the incident channel through a Slack incoming webhook, against a local receiver.

Slack's incoming webhooks take a POST of ``{"text": ...}`` as JSON and answer ``200 ok``; under load they answer 429
with ``Retry-After``, and like any HTTP service they can answer 5xx or nothing at all (Slack API docs, "Sending
messages using incoming webhooks" and "Rate limits"). The runbook asks for regular updates to the stakeholders'
channel during a recovery."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .conftest import Platform

pytestmark = pytest.mark.sandbox
ENV = "qa"


class Webhook(ThreadingHTTPServer):
    """A Slack-like receiver that fails its first ``fail_first`` posts with HTTP 503, then answers 200 ok."""

    def __init__(self, fail_first: int = 0) -> None:
        self.posts: list[dict] = []
        self.failed = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if hook.failed < fail_first:
                    hook.failed += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                hook.posts.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: object) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/T000/B000/secret-part"


def test_each_step_is_posted_and_the_summary_carries_the_timeline_through_transient_failures(
        platform: Platform) -> None:
    hook = Webhook(fail_first=2)
    try:
        run = platform.play(ENV, "reboot", "-e", "auto_approve=true", env={"SLACK_WEBHOOK_URL": hook.url})
    finally:
        hook.shutdown()
        hook.server_close()
    assert run.returncode == 0, run.output[-3000:]
    assert hook.failed == 2, "the first posts were not tried again after HTTP 503"
    texts = [p["text"] for p in hook.posts]
    steps = run.steps()
    for step in steps:
        assert any(f"] {step}: " in t for t in texts), f"no update for step {step}: {texts}"
    summary = texts[-1]
    assert summary.startswith("*reboot on qa: succeeded*"), summary
    assert all(step in summary for step in steps)
    assert all(s.get("notified") == "posted" for s in run.timeline["steps"])
    assert hook.url not in run.output and "secret-part" not in json.dumps(run.timeline)


def test_a_dead_webhook_never_stops_the_recovery(platform: Platform) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = platform.play(ENV, "reboot", "-e", "auto_approve=true",
                        env={"SLACK_WEBHOOK_URL": f"http://127.0.0.1:{port}/services/dead"})
    assert run.returncode == 0, run.output[-3000:]
    assert run.timeline["outcome"] == "succeeded"
    notes = [s.get("notified", "") for s in run.timeline["steps"]]
    assert notes and all(n.startswith("not posted: no answer") for n in notes), notes
    assert "tell the channel by hand" in notes[0]
