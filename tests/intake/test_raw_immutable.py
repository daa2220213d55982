"""A stored payload is never changed or deleted: the database refuses it on PostgreSQL (the app's
role has no UPDATE of the verbatim columns and no DELETE, core.dbroles; the trigger of migration
intake 0002 refuses even the owner: tests/core/test_db_roles.py), the model and its queryset
refuse it on every backend; status columns stay writable."""

import pytest
from django.db import DatabaseError, connection, transaction

from orderhub.intake import services
from orderhub.intake.models import InboundMessage, RawImmutable

from .conftest import sample

pytestmark = pytest.mark.django_db


def _stored(actor):
    return services.inbound_receive(channel="miniprogram", kind="webhook", actor=actor,
                                    payload=sample("miniprogram", "01-paid.json"),
                                    content_type="application/json", source="10.0.0.7",
                                    headers={"User-Agent": "wx"})


@pytest.mark.postgres
@pytest.mark.parametrize("column, value", [
    ("payload", "'\\x00'::bytea"), ("content_type", "'text/plain'"), ("headers", "'{}'::jsonb"),
    ("channel", "'taobao'"), ("source", "'1.2.3.4'"), ("received_at", "now() - interval '1 day'"),
    ("sha256", "'0'"), ("kind", "'api'"),
])
def test_database_refuses_tampering_with_a_verbatim_column(intake_actor, column, value):
    msg = _stored(intake_actor)
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"UPDATE intake_inboundmessage SET {column} = {value} WHERE id = %s", [msg.pk])
    stored = InboundMessage.objects.get(pk=msg.pk)
    assert bytes(stored.payload) == sample("miniprogram", "01-paid.json")
    assert (stored.channel, stored.content_type, stored.source) == ("miniprogram", "application/json", "10.0.0.7")
    assert stored.received_at == msg.received_at and stored.headers == {"User-Agent": "wx"}


@pytest.mark.postgres
def test_database_refuses_delete_but_lets_status_change(intake_actor):
    msg = _stored(intake_actor)
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM intake_inboundmessage WHERE id = %s", [msg.pk])
    with connection.cursor() as cur:  # the status columns are what processing writes
        cur.execute("UPDATE intake_inboundmessage SET status = 'failed', errors = '[]'::jsonb, attempts = 3, "
                    "route = 'taobao', queued = true WHERE id = %s", [msg.pk])
        assert cur.rowcount == 1
    stored = InboundMessage.objects.get(pk=msg.pk)
    assert (stored.status, stored.attempts, stored.route) == ("failed", 3, "taobao")


def test_model_and_queryset_refuse_on_every_backend(intake_actor):
    msg = _stored(intake_actor)
    msg.payload = b"tampered"
    with pytest.raises(RawImmutable):
        msg.save()
    with pytest.raises(RawImmutable):
        msg.save(update_fields=["payload", "status"])
    with pytest.raises(RawImmutable):
        InboundMessage.objects.filter(pk=msg.pk).update(source="1.2.3.4")
    with pytest.raises(RawImmutable):
        InboundMessage.objects.filter(pk=msg.pk).delete()
    with pytest.raises(RawImmutable):
        msg.delete()
    msg.status = "failed"
    msg.save(update_fields=["status"])
    InboundMessage.objects.filter(pk=msg.pk).update(attempts=2)
    stored = InboundMessage.objects.get(pk=msg.pk)
    assert bytes(stored.payload) == sample("miniprogram", "01-paid.json")
    assert (stored.status, stored.attempts) == ("failed", 2)
