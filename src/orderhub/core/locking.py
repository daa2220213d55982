"""Row locks for the services."""

from __future__ import annotations

from typing import TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def lock_own_rows(qs: QuerySet[M], *, skip_locked: bool = False) -> QuerySet[M]:
    """``SELECT … FOR UPDATE`` of the queryset's own rows only (not the rows it joins with
    select_related) where the database can say so; ``skip_locked`` for job claims."""
    if connection.features.has_select_for_update_of:
        return qs.select_for_update(of=("self",), skip_locked=skip_locked)
    return qs.select_for_update(skip_locked=skip_locked)
