"""A received file's bytes go in and come out unchanged on both paths: binary on PostgreSQL
(``fastsql.server_bound`` for the INSERT, ``fastsql.fetch_bytes`` to read), the ORM's own
elsewhere (``ORDERHUB_SQL_PATH=orm``, SQLite); a message loaded without them reads them when
they are needed."""

import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orderhub.intake import services
from orderhub.intake.models import InboundMessage
from orderhub.intake.store import payload_of

from .conftest import sample

pytestmark = pytest.mark.django_db

# every byte value, NUL and invalid UTF-8 among them, and enough of them to be a real file
EVERY_BYTE = bytes(range(256)) * 4096 + b"\x00\xff\xfe"


@pytest.fixture(params=["fast", "orm"])
def sql_path(request, settings):
    settings.ORDERHUB_SQL_PATH = request.param
    return request.param


def _receive(actor, payload: bytes) -> InboundMessage:
    return services.inbound_receive(channel="taobao", kind="upload", actor=actor, payload=payload,
                                    content_type="text/csv", filename="x.csv")


def test_bytes_come_back_as_they_were_sent(intake_actor, sql_path):
    msg = _receive(intake_actor, EVERY_BYTE)
    assert msg.size == len(EVERY_BYTE) and msg.sha256 == hashlib.sha256(EVERY_BYTE).hexdigest()
    loaded = InboundMessage.objects.defer("payload").get(pk=msg.pk)
    assert "payload" not in loaded.__dict__
    assert payload_of(loaded) == EVERY_BYTE                          # read from the database
    assert bytes(InboundMessage.objects.get(pk=msg.pk).payload) == EVERY_BYTE   # and by the ORM
    assert payload_of(InboundMessage.objects.get(pk=msg.pk)) == EVERY_BYTE   # the instance's own


def test_an_empty_payload_and_a_missing_message(intake_actor, sql_path):
    msg = _receive(intake_actor, b"")
    deferred = InboundMessage.objects.defer("payload").get(pk=msg.pk)
    assert payload_of(deferred) == b""
    deferred.pk += 10_000
    with pytest.raises(InboundMessage.DoesNotExist):
        payload_of(deferred)


@pytest.mark.postgres
def test_the_insert_carries_the_file_as_a_parameter_not_as_text(intake_actor, settings):
    """Bound on the client, a 1 MB file would be a 2 MB hex literal inside the statement."""
    settings.ORDERHUB_SQL_PATH = "fast"
    with CaptureQueriesContext(connection) as ctx:
        msg = _receive(intake_actor, EVERY_BYTE)
    inserts = [q["sql"] for q in ctx.captured_queries if "intake_inboundmessage" in q["sql"]
               and q["sql"].lstrip().upper().startswith("INSERT")]
    assert inserts and all(len(sql) < 10_000 for sql in inserts), [len(s) for s in inserts]
    assert payload_of(InboundMessage.objects.defer("payload").get(pk=msg.pk)) == EVERY_BYTE


def test_an_import_reads_the_file_it_was_not_handed(intake_actor, master, sql_path):
    """``upload_run`` loads the job's message without its bytes; the import reads them."""
    job = services.upload_receive(channel="taobao", filename="t.csv", actor=intake_actor, content_type="text/csv",
                                  content=sample("taobao", "ExportOrderList202602181230.csv"))
    done = services.upload_run(job=job.pk, actor=intake_actor)
    assert (done.rows_total, done.orders_created, done.rows_failed) == (5, 2, 3)
    assert "payload" not in done.message.__dict__
