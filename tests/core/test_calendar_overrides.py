"""Admins correct the statutory calendar; deadlines follow at once."""

from datetime import date, datetime

import pytest

from orderhub.core import clock
from orderhub.core.errors import PermissionDenied
from orderhub.core.models import AuditEvent
from orderhub.core.services import calendar_override_set
from orderhub.orders import services
from tests.conftest import SH, order_input

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.smoke]


def test_a_company_day_off_pushes_deadlines_and_is_audited(company):
    a = company["actors"]
    with pytest.raises(PermissionDenied):
        calendar_override_set(day=date(2026, 11, 30), is_workday=False, note="盘点停工", actor=a["planner"])
    calendar_override_set(day=date(2026, 11, 30), is_workday=False, note="年终盘点停工", actor=a["admin"])
    with clock.frozen(datetime(2026, 11, 27, 16, 0, tzinfo=SH)):  # Friday 16:00
        order = services.order_create(data=order_input(), actor=a["sales"]).order
    # 1.5 h on Friday; Monday 30th is off; 2.5 h on Tuesday → Tuesday 11:00
    assert order.stage_due_at == datetime(2026, 12, 1, 11, 0, tzinfo=SH)
    ev = AuditEvent.objects.get(subject_type="calendar", action="calendar.override_set")
    assert ev.changes == {"is_workday": [None, False]} and ev.reason == "年终盘点停工"
