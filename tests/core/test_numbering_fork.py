"""A forked process (a parallel import's worker) takes hi/lo blocks of its own: it never hands
out an id or number its parent holds."""

from __future__ import annotations

import multiprocessing

import pytest
from django.db import connections

from orderhub.core import numbering
from orderhub.orders.models import Order

ORDERS = Order._meta.db_table


def _child(out) -> None:
    try:
        out.put([numbering.preallocated_id(ORDERS) for _ in range(3)])
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_forked_child_takes_its_own_block():
    parent = [numbering.preallocated_id(ORDERS)]
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    proc = ctx.Process(target=_child, args=(out,))
    proc.start()
    child = out.get(timeout=30)
    proc.join(30)
    parent += [numbering.preallocated_id(ORDERS) for _ in range(3)]
    assert proc.exitcode == 0
    assert not set(parent) & set(child), (parent, child)
