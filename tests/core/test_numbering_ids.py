"""Ids taken many at once are the ones taken one by one would be."""

from __future__ import annotations

import copy

import pytest
from django.db import connection

from orderhub.core import numbering
from orderhub.orders.models import OrderLine

LINES = OrderLine._meta.db_table


@pytest.mark.django_db
def test_ids_taken_at_once_are_those_taken_one_by_one():
    if connection.vendor != "postgresql":
        assert numbering.preallocated_ids(LINES, 3) is None
        return
    numbering.preallocated_id(LINES)              # a block partly handed out already
    name = numbering.serial_sequence(LINES)
    numbering.reserve(name, 130)                  # three more blocks held: neither way fetches one
    held = copy.deepcopy(numbering._blocks[name])
    assert len(held) >= 3
    one_by_one = [numbering.preallocated_id(LINES) for _ in range(130)]
    numbering._blocks[name] = copy.deepcopy(held)
    at_once = numbering.preallocated_ids(LINES, 130)
    assert at_once == one_by_one
    assert len(set(at_once)) == 130
    assert numbering._blocks[name] == [b for b in numbering._blocks[name] if b[0] < b[1]]  # spent blocks dropped
    assert numbering.preallocated_ids(LINES, 0) == []
    assert numbering.preallocated_id(LINES) not in at_once
    more = numbering.preallocated_ids(LINES, 200)  # beyond what was held: fetched, one round trip
    assert len(set(more)) == 200 and not set(more) & set(at_once)
