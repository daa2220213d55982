"""The inbox reads like messages, not like data: Markdown rendered (safely), local times, stage
names, no "待待确认", grouped by day or by order, a page at a time, everything marked read at
once (web and API), and the shipped templates moved to the readable text by migration."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps as django_apps
from django.test import Client
from django.utils import timezone

from orderhub.core import clock
from orderhub.notify.delivery import deliver_due
from orderhub.notify.models import Message, MessageTemplate
from orderhub.notify.services import Recipient, notify
from orderhub.orders.services import order_create, order_transition
from orderhub.rules.sweep import sweep_overdue
from tests.conftest import order_input

pytestmark = pytest.mark.django_db


def login(role: str) -> Client:
    c = Client()
    assert c.login(username=role, password="pw-" + role)
    return c


def test_order_messages_read_as_text_with_stage_names_and_local_times(
        company, inline_jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = order_create(data=order_input(), actor=company["actors"]["sales"]).order
    page = login("service").get("/notifications/").content.decode()
    # the subject says the stage once: 待确认 is the stage's own name
    assert f"新订单 {order.number}：待确认" in page
    assert "待待" not in page
    # Markdown rendered: a heading element, no raw marks
    assert "###" not in page and "<h3>新订单" in page
    with django_capture_on_commit_callbacks(execute=True):
        order_transition(order=order.number, to="scheduled", actor=company["actors"]["service"])
    page = login("planner").get("/notifications/").content.decode()
    assert "上一环节：待确认" in page and "上一环节：pending" not in page


def test_an_overdue_alert_gives_its_deadline_in_local_time(company, inline_jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = order_create(data=order_input(), actor=company["actors"]["sales"]).order
    order.refresh_from_db()
    due = order.stage_due_at
    with clock.frozen(due + timedelta(hours=1)), django_capture_on_commit_callbacks(execute=True):
        sweep_overdue()
        deliver_due()
    m = Message.objects.filter(event="stage.overdue", channel="inapp").first()
    assert m is not None
    local = timezone.localtime(due).strftime("%Y-%m-%d %H:%M")
    assert f"截止时间 {local} 已过" in m.body
    page = login("service").get("/notifications/").content.decode()
    assert local in page
    assert "+00:00" not in page and f"{timezone.localtime(due).date()}T" not in page  # no ISO stamp


def test_markdown_is_rendered_safely_and_old_iso_stamps_show_in_local_time(company, inline_jobs,
                                                                          django_capture_on_commit_callbacks):
    stamp = datetime(2026, 12, 2, 2, 38, 24, 589259, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        notify(event="rule.notify", recipients=[Recipient.role("service")], channels=["inapp"],
               context={"title": "测试", "message": f"**加粗** <script>alert(1)</script> [点我](javascript:alert(1)) "
                                                     f"截止 {stamp.isoformat()}"},
               dedupe_key="md1")
    page = login("service").get("/notifications/").content.decode()
    assert "<strong>加粗</strong>" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert 'href="javascript:' not in page
    assert "2026-12-02 10:38" in page and stamp.isoformat() not in page


def test_the_inbox_is_paged_and_grouped_by_day_or_by_order(company, inline_jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = order_create(data=order_input(), actor=company["actors"]["sales"]).order
        second = order_create(data=order_input(external_ref="B"), actor=company["actors"]["sales"]).order
    yesterday = clock.now() - timedelta(days=1)
    with clock.frozen(yesterday), django_capture_on_commit_callbacks(execute=True):
        for i in range(33):
            notify(event="rule.notify", recipients=[Recipient.role("service")], channels=["inapp"],
                   context={"title": f"提醒{i}", "message": "请处理"}, order=first if i % 2 else second,
                   dedupe_key=f"many{i}")
    c = login("service")
    total = Message.objects.filter(user=company["users"]["service"], channel="inapp", status="delivered").count()
    assert total == 35
    page1 = c.get("/notifications/").content.decode()
    assert page1.count('data-testid="inbox-item"') == 30
    assert "1 / 2" in page1 and "今天" in page1 and "昨天" in page1
    page2 = c.get("/notifications/?page=2").content.decode()
    assert page2.count('data-testid="inbox-item"') == 5
    by_order = c.get("/notifications/?group=order").content.decode()
    heads = by_order.split('data-testid="inbox-group"')[1:]
    assert len(heads) == 2
    assert {first.number, second.number} == {h.split("</a>")[0].rsplit(">", 1)[1] for h in heads}
    # mark all read: one button, every message
    c.post("/notifications/read")
    assert not Message.objects.filter(user=company["users"]["service"], read_at__isnull=True).exists()
    assert 'data-testid="mark-all-read"' not in c.get("/notifications/").content.decode()


def test_inbox_api_pages_and_marks_read(company, api_as, inline_jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = order_create(data=order_input(), actor=company["actors"]["sales"]).order
        for i in range(4):
            notify(event="rule.notify", recipients=[Recipient.role("service")], channels=["inapp"],
                   context={"title": f"提醒{i}", "message": "请处理"}, order=order, dedupe_key=f"api{i}")
    api = api_as("service")
    r = api.get("/api/notify/inbox", page_size=2)
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["count"] == 5 and data["unread"] == 5 and data["pages"] == 3 and len(data["items"]) == 2
    assert data["items"][0]["order"] == order.number and data["items"][0]["read_at"] is None
    one = data["items"][0]["id"]
    r = api.call("post", "/api/notify/inbox/read", {"ids": [one]})
    assert r.status_code == 200 and r.json() == {"marked": 1, "unread": 4}
    assert api.get("/api/notify/inbox", unread="true").json()["count"] == 4
    # someone else's message ids mark nothing of theirs
    assert api_as("planner").call("post", "/api/notify/inbox/read", {"ids": [one]}).json()["marked"] == 0
    r = api.call("post", "/api/notify/inbox/read", {})
    assert r.json() == {"marked": 4, "unread": 0}
    assert api.get("/api/notify/inbox", page_size=500).status_code == 422


def test_migration_moves_unedited_default_templates_and_keeps_edited_ones(company):
    mig = importlib.import_module("orderhub.notify.migrations.0006_readable_default_templates")
    event, channel, old_subject, old_body, subject, body = mig.CHANGED[0]
    MessageTemplate.objects.update_or_create(event=event, channel=channel,
                                             defaults={"subject": old_subject, "body": old_body})
    ev2, ch2, old_subject2, _old_body2, _s2, _b2 = mig.CHANGED[1]
    MessageTemplate.objects.update_or_create(event=ev2, channel=ch2,
                                             defaults={"subject": "管理员改过的", "body": "自定义正文"})
    mig.forwards(django_apps, None)
    t = MessageTemplate.objects.get(event=event, channel=channel)
    assert (t.subject, t.body) == (subject, body)
    assert MessageTemplate.objects.get(event=ev2, channel=ch2).subject == "管理员改过的"
    mig.backwards(django_apps, None)
    t.refresh_from_db()
    assert (t.subject, t.body) == (old_subject, old_body)
