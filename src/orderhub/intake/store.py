"""Writing intake's links between messages and the orders made from them, and a message's raw
bytes in and out.

Twins, chosen by ``core.fastsql.available()``: the ORM's ``bulk_create(ignore_conflicts=True)``
and one prepared ``INSERT … SELECT FROM jsonb_populate_recordset … ON CONFLICT DO NOTHING``
(PostgreSQL). The parity suite (``tests/orders/test_parity.py``) imports a file through both
and compares the links. A message's bytes (``payload``, up to the upload limit) travel in
binary on PostgreSQL (``fastsql.server_bound``, ``fastsql.fetch_bytes``); the tests in
``tests/intake/test_raw_bytes.py`` read back what both paths stored.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from orderhub.core import fastsql

from .models import InboundMessage, InboundOrder

LINK_FIELDS = ("message_id", "order_id", "row", "created", "meta")


def insert_links(links: list[dict[str, Any]]) -> None:
    """``InboundOrder`` rows (message_id, order_id, row, created, meta as plain JSON); a link
    already there is left as it is."""
    if not links:
        return
    if fastsql.available():
        fastsql.execute(_links_sql(), links, returning=False)
    else:
        InboundOrder.objects.bulk_create([InboundOrder(**ln) for ln in links], ignore_conflicts=True)


@cache
def _links_sql() -> str:
    table = fastsql.table(InboundOrder)
    cols = ", ".join(fastsql.quote(InboundOrder._meta.get_field(f).column) for f in LINK_FIELDS)
    return (f"INSERT INTO {table} ({cols}) SELECT {cols} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) "
            f"ON CONFLICT DO NOTHING")


def create_message(**fields: Any) -> InboundMessage:
    """A new ``InboundMessage``, its payload sent in binary."""
    with fastsql.server_bound():
        return InboundMessage.objects.create(**fields)


def payload_of(msg: InboundMessage) -> bytes:
    """The message's stored bytes: those the instance holds, else read from the database
    (a message is loaded without them where they are not read: a large file's bytes are
    fetched once, in binary)."""
    if "payload" in msg.__dict__:
        return bytes(msg.payload)
    if fastsql.available():
        data = fastsql.fetch_bytes(f"SELECT {fastsql.quote(InboundMessage._meta.get_field('payload').column)} "
                                   f"FROM {fastsql.table(InboundMessage)} WHERE {fastsql.quote(InboundMessage._meta.pk.column)} = %s",
                                   [msg.pk])
    else:
        data = InboundMessage.objects.filter(pk=msg.pk).values_list("payload", flat=True).first()
    if data is None:
        raise InboundMessage.DoesNotExist(f"inbound message {msg.pk}")
    return bytes(data)
