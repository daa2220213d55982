"""The daily report mailed by the periodic job: at the configured time, to the configured roles'
people only, over real SMTP on loopback (aiosmtpd), the PDF attached, once per day however often
the job runs. The setting is the admin's (notify.manage), audited."""

import io
from datetime import datetime, time

import pypdf
import pytest

from orderhub.core import clock
from orderhub.core.errors import PermissionDenied, ValidationFailed
from orderhub.core.models import AuditEvent
from orderhub.kpis import events
from orderhub.kpis.models import DailyReportSent
from orderhub.kpis.services import daily_report_setting_save
from orderhub.kpis.tasks import mail_daily_report
from orderhub.notify.delivery import deliver_due
from orderhub.notify.models import Message
from orderhub.notify.services import endpoint_save
from tests.conftest import SH
from tests.notify.conftest import private_targets_allowed, smtp  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 12, 1, 0, 0, tzinfo=SH)


def _at(h, m):
    return DAY.replace(hour=h, minute=m)


def _run(django_capture_on_commit_callbacks, at):
    with clock.frozen(at), django_capture_on_commit_callbacks(execute=True):
        n = mail_daily_report()
    with clock.frozen(at):
        deliver_due()
    return n


def test_mailed_once_a_day_to_the_configured_roles(company, smtp, django_capture_on_commit_callbacks):  # noqa: F811
    users, admin = company["users"], company["actors"]["admin"]
    for role in ("manager", "planner", "sales"):
        users[role].email = f"{role}@factory.example"
        users[role].save()
    endpoint_save(code="smtp", name="邮件", kind="email", actor=admin,
                  config={"host": "127.0.0.1", "port": smtp.port, "from_email": "hub@factory.example"})
    daily_report_setting_save(enabled=True, send_at=time(7, 30), roles=["manager", "planner"], actor=admin)
    assert AuditEvent.objects.filter(action=events.SETTING_SAVED).count() == 1

    assert _run(django_capture_on_commit_callbacks, _at(7, 29)) == 0      # not yet
    assert _run(django_capture_on_commit_callbacks, _at(7, 31)) == 2      # manager and planner
    assert _run(django_capture_on_commit_callbacks, _at(9, 0)) == 0       # never twice a day
    got = smtp.wait_for(2)
    assert sorted(r for rcpt, _m in got for r in rcpt) == ["manager@factory.example", "planner@factory.example"]
    assert DailyReportSent.objects.get().day.isoformat() == "2026-12-01"
    assert set(Message.objects.values_list("status", flat=True)) == {"delivered"}

    from email.header import decode_header, make_header

    _rcpt, mail = got[0]
    assert str(make_header(decode_header(mail["Subject"]))) == "订单中枢日报 2026-12-01"
    pdfs = [p for p in mail.walk() if p.get_content_type() == "application/pdf"]
    assert len(pdfs) == 1
    text = pypdf.PdfReader(io.BytesIO(pdfs[0].get_payload(decode=True))).pages[0].extract_text()
    assert "订单中枢日报 2026-12-01" in text and "准时交付率" in text

    # the next day: once again
    assert _run(django_capture_on_commit_callbacks, _at(7, 31).replace(day=2)) == 2
    assert len(smtp.wait_for(4)) == 4
    assert DailyReportSent.objects.count() == 2


def test_setting_is_the_admins(company):
    with pytest.raises(PermissionDenied):
        daily_report_setting_save(enabled=True, send_at=time(8, 0), roles=["manager"],
                                  actor=company["actors"]["manager"])
    with pytest.raises(ValidationFailed):
        daily_report_setting_save(enabled=True, send_at=time(8, 0), roles=["nobody"],
                                  actor=company["actors"]["admin"])
    with clock.frozen(_at(9, 0)):
        assert mail_daily_report() == 0   # disabled by default: nothing


def test_setting_page_and_api(company):
    from django.test import Client

    from orderhub.kpis.services import daily_report_setting

    c = Client()
    c.force_login(company["users"]["admin"])
    assert "report-setting-link" in c.get("/kpi/boss/").content.decode()
    page = c.get("/kpi/daily-report/setting/")
    assert page.status_code == 200 and "接收角色" in page.content.decode()
    r = c.post("/kpi/daily-report/setting/", {"enabled": "on", "send_at": "06:45", "roles": ["manager", "planner"]})
    assert r.status_code == 302
    s = daily_report_setting()
    assert (s.enabled, s.send_at, s.roles) == (True, time(6, 45), ["manager", "planner"])
    api = c.get("/api/kpis/daily-report/setting").json()
    assert api == {"enabled": True, "send_at": "06:45", "roles": ["manager", "planner"]}
    r = c.put("/api/kpis/daily-report/setting", {"enabled": False, "send_at": "07:00", "roles": ["sales"]},
              content_type="application/json")
    assert r.status_code == 200 and r.json()["roles"] == ["sales"]
    r = c.put("/api/kpis/daily-report/setting", {"enabled": False, "send_at": "07:00", "roles": ["x"]},
              content_type="application/json")
    assert r.status_code == 422
    c.force_login(company["users"]["manager"])
    assert "report-setting-link" not in c.get("/kpi/boss/").content.decode()
    assert c.get("/kpi/daily-report/setting/").status_code == 403
