"""Calendar honesty: 2027 (no official schedule in the holidays library) is marked 估算; an
administrator imports the official table (page and API) and open deadlines are recomputed."""

from datetime import date, datetime

import pytest

from orderhub.core import clock
from orderhub.core.calendar import library_official_years
from orderhub.core.calendar_config import (
    clear_calendar_cache,
    get_business_calendar,
    year_is_estimated,
)
from orderhub.core.errors import ValidationFailed
from orderhub.core.holiday_table import parse_holiday_table
from orderhub.core.models import AuditEvent
from orderhub.core.tokens import token_create
from orderhub.orders import events
from orderhub.orders.models import Order, StageInstance
from orderhub.orders.services import order_create
from tests.api.conftest import ApiClient
from tests.conftest import SH, order_input
from tests.web.test_pages import login

# an official-style table for 2027 (fictional: the real one is not published at the time of
# writing): the library guesses 02-05..02-10 off and no make-up workdays
TABLE_2027 = """日期,类型
2027-02-06~2027-02-13 休   # 春节
2027-02-20,班
2027年10月1日至2027年10月7日 放假
2027-09-26 补班
"""


def test_the_library_knows_2026_and_only_estimates_2027():
    official = library_official_years("CN")
    assert 2026 in official and 2025 in official
    assert 2027 not in official


def test_a_pasted_table_reads_ranges_chinese_dates_and_csv_and_refuses_faults():
    t = parse_holiday_table(TABLE_2027)
    assert t.year == 2027
    assert date(2027, 2, 6) in t.days_off and date(2027, 2, 13) in t.days_off
    assert date(2027, 10, 7) in t.days_off and len(t.days_off) == 8 + 7
    assert t.workdays == [date(2027, 2, 20), date(2027, 9, 26)]
    for bad, words in (("2027-02-06", "休"), ("2027-02-06 休\n2028-01-01 休", "一次"),
                       ("2027-02-06 休\n2027-02-06 班", "2027-02-06"), ("没有日期", "例如"),
                       ("2027-02-30 休", "没有这一天")):
        with pytest.raises(ValidationFailed) as e:
            parse_holiday_table(bad)
        assert words in " ".join(str(p.message) for p in e.value.problems), (bad, e.value.problems)


@pytest.mark.django_db
def test_an_estimated_year_is_marked_then_an_imported_schedule_recomputes_open_deadlines(company):
    clear_calendar_cache()
    # Thursday 2027-02-04 15:00: the 4 working hours of 待确认 run into Spring Festival
    with clock.frozen(datetime(2027, 2, 4, 15, 0, tzinfo=SH)):
        order = order_create(data=order_input(required_date=date(2027, 3, 20)),
                             actor=company["actors"]["service"]).order
        # the library's guess: Friday 02-05 off, back on Thursday 02-11
        assert order.stage_due_at == datetime(2027, 2, 11, 10, 0, tzinfo=SH)
        assert year_is_estimated(2027)

        c = login("admin")
        page = c.get("/settings/calendar/").content.decode()
        assert 'data-testid="estimated-banner"' in page and "2027" in page and "估算" in page
        detail = c.get(f"/orders/{order.number}/").content.decode()
        assert 'data-testid="deadline-estimated"' in detail and "估算" in detail

        api = ApiClient(token_create(user=company["users"]["admin"], name="t")[1])
        years = {y["year"]: y for y in api.get("/api/calendar/years").json()}
        assert years[2027]["estimated"] is True and years[2026]["estimated"] is False

        # a planner may not import; a faulty table is refused with the line named
        planner = ApiClient(token_create(user=company["users"]["planner"], name="t")[1])
        assert planner.post("/api/calendar/official", {"text": TABLE_2027}).status_code == 403
        bad = api.post("/api/calendar/official", {"text": "2027-02-06 休\n2027-02-07"})
        assert bad.status_code == 422 and "第 2 行" in bad.content.decode()

        resp = api.post("/api/calendar/official", {"text": TABLE_2027, "source": "国办发明电〔2026〕X号"})
        assert resp.status_code == 200, resp.content
        body = resp.json()
        assert body["estimated"] is False and body["recomputed"] == [order.number]
        assert "2027-02-20" in body["workdays"]

        # Friday 02-05 is a workday in the official table: due Friday 10:00
        order.refresh_from_db()
        assert order.stage_due_at == datetime(2027, 2, 5, 10, 0, tzinfo=SH)
        inst = StageInstance.objects.get(order=order, exited_at__isnull=True)
        assert inst.due_at == order.stage_due_at
        ev = AuditEvent.objects.filter(subject_type="order", subject_id=order.pk).order_by("-seq").first()
        assert ev.action == events.ORDER_DEADLINE_RECOMPUTED
        assert ev.changes["stage_due_at"][1].startswith("2027-02-05T10:00")
        assert AuditEvent.objects.filter(subject_type="calendar", subject_id=2027,
                                         action="calendar.official_imported").exists()
        assert not year_is_estimated(2027)
        cal = get_business_calendar()
        assert cal.is_workday(date(2027, 2, 20)) and not cal.is_workday(date(2027, 2, 11))

        # the page shows no banner for 2027 any more, the history says what moved, readable
        page = c.get("/settings/calendar/").content.decode()
        assert "国办发明电" in page
        detail = c.get(f"/orders/{order.number}/").content.decode()
        assert 'data-testid="deadline-estimated"' not in detail
        assert "期限已重算（日历变更）" in detail
        assert "<td>→ 2027-02-05 10:00</td>" in detail and "→ 2027-02-05T" not in detail

        # importing the same table again moves nothing
        again = api.post("/api/calendar/official", {"text": TABLE_2027})
        assert again.json()["recomputed"] == []
        assert Order.objects.get(pk=order.pk).version == order.version


@pytest.mark.django_db
def test_the_calendar_page_imports_an_uploaded_gb18030_file(company):
    from django.core.files.uploadedfile import SimpleUploadedFile
    clear_calendar_cache()
    c = login("admin")
    upload = SimpleUploadedFile("2027.csv", "日期,类型\n2027-02-06~2027-02-13,放假\n2027-02-20,上班\n"
                                .encode("gb18030"), content_type="text/csv")
    resp = c.post("/settings/calendar/official", {"file": upload, "source": "通知"})
    assert resp.status_code == 302
    assert not year_is_estimated(2027)
    assert get_business_calendar().is_workday(date(2027, 2, 20))
    refused = c.post("/settings/calendar/official", {"text": "2027-02-06"})
    assert refused.status_code == 400 and "休" in refused.content.decode()
