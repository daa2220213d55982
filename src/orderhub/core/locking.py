"""Row locks for the services."""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet


def lock_own_rows(qs: QuerySet, *, skip_locked: bool = False) -> QuerySet:
    """``SELECT … FOR UPDATE`` of the queryset's own rows only (not the rows it joins with
    select_related) where the database can say so; ``skip_locked`` for job claims."""
    if connection.features.has_select_for_update_of:
        return qs.select_for_update(of=("self",), skip_locked=skip_locked)
    return qs.select_for_update(skip_locked=skip_locked)
