"""Per-address rate limits on the doors anyone can knock on (orderhub.core.ratelimit): login
forms, intake webhooks, quick-order posts, and refused intake requests; answered 429 with
Retry-After and a Chinese message, documented in the OpenAPI, and shared by every gunicorn worker
through Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.test import Client

from orderhub.core.ratelimit import client_key, hit, parse_rate
from orderhub.intake import services
from orderhub.intake.models import InboundMessage

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _limits(settings, **rates):
    settings.ORDERHUB_RATE_LIMITS = {**settings.ORDERHUB_RATE_LIMITS, **rates}


def test_login_posts_per_address(company, settings):
    _limits(settings, login="3/60")
    c = Client(REMOTE_ADDR="198.51.100.1")
    for _ in range(3):
        assert c.post("/login/", {"username": "planner", "password": "wrong"}).status_code == 200
    over = c.post("/login/", {"username": "planner", "password": "pw-planner"})
    assert over.status_code == 429 and 1 <= int(over["Retry-After"]) <= 60
    assert "请求过于频繁" in over.content.decode() and 'data-testid="rate-limited"' in over.content.decode()
    assert "_auth_user_id" not in c.session
    # another address is not affected; neither is reading the page
    assert Client(REMOTE_ADDR="198.51.100.2").post(
        "/login/", {"username": "planner", "password": "pw-planner"}).status_code == 302
    assert c.get("/login/").status_code == 200
    assert Client(REMOTE_ADDR="198.51.100.1").post("/admin/login/", {"username": "x", "password": "y"}).status_code == 429


def test_webhooks_and_refused_requests_per_address(master, intake_actor, settings):
    _limits(settings, intake_webhook="4/60", intake_refused="2/600")
    services.channel_save(code="miniprogram", secret="s", window_seconds=300, actor=intake_actor)

    def signed(ip: str):
        ts = str(int(time.time()))
        body = b'{"order_id": "Z"}'
        return Client(REMOTE_ADDR=ip).post("/api/intake/miniprogram", data=body, content_type="application/json",
                                           headers={"X-OrderHub-Timestamp": ts,
                                                    "X-OrderHub-Signature": services.webhook_signature("s", ts, body)})

    def unsigned(ip: str):
        return Client(REMOTE_ADDR=ip).post("/api/intake/miniprogram", data=b"<x>", content_type="text/html")

    # refused ones: two are logged, then that address is answered 429, signed or not
    assert [unsigned("192.0.2.1").status_code for _ in range(2)] == [401, 401]
    blocked = signed("192.0.2.1")
    assert blocked.status_code == 429 and blocked.json()["code"] == "rate_limited"
    assert "请求过于频繁" in blocked.json()["message"] and int(blocked["Retry-After"]) > 0
    assert unsigned("192.0.2.1").status_code == 429
    from orderhub.intake.models import RefusedRequest

    assert RefusedRequest.objects.count() == 2  # what is answered 429 is not logged again
    # accepted ones from another address: four per minute, then 429 without storing anything
    statuses = [signed("192.0.2.2").status_code for _ in range(5)]
    assert statuses == [202, 202, 202, 202, 429]
    assert InboundMessage.objects.count() == 4


def test_quick_order_posts_and_wrong_links_per_address(master, settings):
    _limits(settings, quick_order="2/60", intake_refused="2/600")
    body = b'{"item": "x", "due_date": "2026-12-20"}'
    c = Client(REMOTE_ADDR="192.0.2.9")
    assert [c.post("/api/intake/quick/qo_x", data=body, content_type="application/json").status_code
            for _ in range(3)] == [404, 404, 429]
    assert c.post("/q/qo_x", {"item": "x"}).status_code == 429  # the page shares the address's budget
    assert c.get("/q/qo_guess").status_code == 429  # two wrong links: guessing stops here


def test_ipv6_addresses_count_per_64_and_rates_parse():
    assert client_key("2001:db8:1:2:3:4:5:6") == client_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1" and client_key("192.0.2.1") == "192.0.2.1"
    assert parse_rate("30/60").count == 30 and parse_rate("0") is None and parse_rate("off") is None


def test_the_limits_are_in_the_openapi():
    spec = Client().get("/api/openapi.json").json()
    for path, method in (("/api/intake/{channel}", "post"), ("/api/intake/quick/{token}", "post")):
        op = spec["paths"][path][method]
        assert "429" in op["responses"], path
        assert "429" in op["description"] or "Retry-After" in op["description"]


def test_behind_a_proxy_the_address_comes_from_forwarded_for(master, settings):
    _limits(settings, intake_refused="1/600")
    settings.ORDERHUB_PROXY_COUNT = 1
    spoofed = {"HTTP_X_FORWARDED_FOR": "10.9.9.9, 192.0.2.50", "REMOTE_ADDR": "127.0.0.1"}
    assert Client(**spoofed).post("/api/intake/nope", data=b"{}", content_type="application/json").status_code == 404
    from orderhub.intake.models import RefusedRequest

    assert RefusedRequest.objects.get().ip == "192.0.2.50"  # what the proxy saw, not what the client claimed
    again = {"HTTP_X_FORWARDED_FOR": "10.1.1.1, 192.0.2.50", "REMOTE_ADDR": "127.0.0.1"}
    assert Client(**again).post("/api/intake/nope", data=b"{}", content_type="application/json").status_code == 429
    other = {"HTTP_X_FORWARDED_FOR": "192.0.2.51", "REMOTE_ADDR": "127.0.0.1"}
    assert Client(**other).post("/api/intake/nope", data=b"{}", content_type="application/json").status_code == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.postgres
def test_limits_hold_across_web_processes_through_redis(tmp_path):
    """Two gunicorn servers (separate processes, as on two machines) with the cache on Redis,
    asked in turn: the login limit is counted once for both."""
    import urllib.error
    import urllib.request

    url = os.environ.get("ORDERHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
    try:
        r = redis.Redis.from_url(url)
        r.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {url}")
    for key in r.scan_iter("orderhub:*rl:*"):
        r.delete(key)
    env = {**os.environ, "ORDERHUB_CACHE_URL": url, "ORDERHUB_RATE_LOGIN": "6/60", "ORDERHUB_DATA_DIR": str(tmp_path),
           "PYTHONPATH": str(ROOT / "src"), "ORDERHUB_SECRET_KEY": "rate-limit-test-secret-key-" + "0123456789" * 4}
    ports = [_free_port(), _free_port()]
    servers = [subprocess.Popen([sys.executable, "-m", "gunicorn", "orderhub.wsgi:application", "--bind",
                                 f"127.0.0.1:{port}", "--workers", "1"], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for port in ports]

    def post(port: int) -> int:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/login/", data=b"username=a&password=b", method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code

    try:
        for port in ports:  # until each answers (its first request loads the URL conf)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=30):
                        break
                except OSError:
                    time.sleep(0.3)
        statuses = [post(ports[i % 2]) for i in range(12)]
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=20)
    # six got through (then CSRF refuses them: 403), three from each process; every later one
    # is 429, whichever process took it (a per-process count would have let twelve through)
    assert statuses == [403] * 6 + [429] * 6, statuses


def test_the_counter_is_one_atomic_increment_per_request(settings):
    _limits(settings, login="2/60")
    assert [hit("login", "x", now=1000.0) for _ in range(3)] == [None, None, 20]
    assert hit("login", "x", now=1020.0) is None  # a new window
