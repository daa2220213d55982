"""Writing intake's links between messages and the orders made from them.

Twins, chosen by ``core.fastsql.available()``: the ORM's ``bulk_create(ignore_conflicts=True)``
and one prepared ``INSERT … SELECT FROM jsonb_populate_recordset … ON CONFLICT DO NOTHING``
(PostgreSQL). The parity suite (``tests/orders/test_parity.py``) imports a file through both
and compares the links.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from orderhub.core import fastsql

from .models import InboundOrder

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
