"""The notify() contract: outbox rows in the caller's transaction, dedupe, recipients."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from orderhub.notify.models import Message
from orderhub.notify.services import Recipient, notify

pytestmark = pytest.mark.django_db


def test_notify_role_writes_rows_for_each_user_and_dedupes(company):
    planner = company["users"]["planner"]
    planner.email = "planner@example.com"
    planner.save()
    n = notify(event="rule.notify", recipients=[Recipient.role("planner")],
               context={"message": "检查物料", "title": "物料提醒"}, dedupe_key="t1")
    assert n == 2   # in-app + e-mail (the default personal channels)
    rows = {m.channel: m for m in Message.objects.all()}
    assert set(rows) == {"inapp", "email"}
    assert rows["email"].address == "planner@example.com"
    assert rows["inapp"].user_id == planner.pk
    assert "检查物料" in rows["inapp"].body and rows["inapp"].subject.startswith("物料提醒")
    assert rows["inapp"].payload["dedupe_key"] == rows["inapp"].dedupe_key
    assert rows["inapp"].status == "queued"
    again = notify(event="rule.notify", recipients=[Recipient.role("planner")],
                   context={"message": "x"}, dedupe_key="t1")
    assert again == 0 and Message.objects.count() == 2


@pytest.mark.smoke
def test_notify_one_insert_and_rollback_sends_nothing(company):
    with CaptureQueriesContext(connection) as q:
        notify(event="rule.notify", recipients=[Recipient.role("planner"), Recipient.role("sales")],
               context={"message": "m"}, dedupe_key="many", channels=["inapp"])
    inserts = [x for x in q.captured_queries if x["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert Message.objects.filter(dedupe_key__startswith="many|").count() == 2
    with pytest.raises(RuntimeError), transaction.atomic():
        notify(event="rule.notify", recipients=[Recipient.role("qc")], context={}, dedupe_key="rb",
               channels=["inapp"])
        raise RuntimeError
    assert not Message.objects.filter(dedupe_key__startswith="rb|").exists()


def test_unknown_channel_and_severity_are_refused(company):
    from orderhub.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as e:
        notify(event="x", recipients=[Recipient.role("qc")], context={}, dedupe_key="k", channels=["fax"])
    assert e.value.problems[0].field == "channels"
    with pytest.raises(ValidationFailed):
        notify(event="x", recipients=[Recipient.role("qc")], context={}, dedupe_key="k", severity="pink")
