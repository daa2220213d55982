"""Fixtures of the notification tests: real receivers on loopback (HTTP and SMTP)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.api.conftest import api_as  # noqa: F401  (fixture: a bearer-token client per role)


class Receiver:
    """A real HTTP server on an ephemeral loopback port that records every request."""

    def __init__(self, status: int = 200, answer: dict | None = None):
        self.requests: list[dict] = []
        self.status = status
        self.answer = answer if answer is not None else {"errcode": 0, "errmsg": "ok"}
        self.extra_headers: dict[str, str] = {}     # e.g. a Location with status 302
        self.delay = 0.0                            # seconds each answer takes
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with receiver.cond:
                    receiver.requests.append({"path": self.path, "headers": self.headers,  # case-insensitive
                                              "body": body})
                    receiver.cond.notify_all()
                data = json.dumps(receiver.answer).encode()
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                for k, v in receiver.extra_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.requests) >= n, timeout)
            return list(self.requests)

    def json(self, i: int) -> dict:
        return json.loads(self.requests[i]["body"])

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def private_targets_allowed(db):
    """The receivers below listen on 127.0.0.1, a loopback address: endpoints may call them only
    once an administrator allows private targets (netguard), which these tests do explicitly."""
    from orderhub.core.actors import Actor
    from orderhub.notify.policy import delivery_settings_save

    return delivery_settings_save(allow_private_targets=True, actor=Actor.system("test"))


@pytest.fixture
def receiver(private_targets_allowed):
    r = Receiver()
    yield r
    r.close()


class SmtpSink:
    """aiosmtpd on an ephemeral loopback port, keeping every message received."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.cond = threading.Condition()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                import email

                msg = email.message_from_bytes(envelope.content)
                with sink.cond:
                    sink.messages.append((envelope.rcpt_tos, msg))
                    sink.cond.notify_all()
                return "250 OK"

        import socket

        with socket.socket() as sock:  # an ephemeral port (the controller checks it by connecting)
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def wait_for(self, n: int, timeout: float = 10.0):
        with self.cond:
            self.cond.wait_for(lambda: len(self.messages) >= n, timeout)
            return list(self.messages)

    def close(self):
        self.controller.stop()


@pytest.fixture
def smtp(private_targets_allowed):
    s = SmtpSink()
    yield s
    s.close()


@pytest.fixture
def admin_actor(company):
    return company["actors"]["admin"]


@pytest.fixture
def inline_jobs(settings):
    settings.ORDERHUB_RUN_JOBS_INLINE = True
    return settings


@pytest.fixture(autouse=True)
def _fresh_notify_caches():
    from orderhub.notify.services import clear_caches

    clear_caches()
    yield
    clear_caches()
