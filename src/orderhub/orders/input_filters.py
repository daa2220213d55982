"""What every order input passes before it is written, whatever door it came by.

Remark tags and triage belong to intake (its configured tag and triage rules), but orders
entered through the web form or ``POST /api/orders`` must be tagged and triaged the same way.
Orders may not import intake, so intake fills this registry with dotted paths in its
``ready()`` (:func:`register`); the paths are resolved on first use, as
``orders.hooks.SUBSCRIBERS`` are.

A filter takes the input and the moment it counts from (``at``: when the order was placed) and
returns the input to write (tags, urgency, remarks changed) and an optional *recorder*, called
with the created order and the actor inside the creating transaction (after the order exists):
the filter's side effects (an alert's audit event and its notification) commit or roll back
with the order. ``order_create`` runs the filters unless its caller ran them already
(intake's own doors triage before they create: ``filtered=True``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

from .inputs import OrderInput

if TYPE_CHECKING:
    from orderhub.core.actors import Actor

    from .models import Order

Recorder = Callable[["Order", "Actor"], None]
InputFilter = Callable[..., tuple[OrderInput, Recorder | None]]   # (data, *, at) -> (data, recorder)

INPUT_FILTERS: list[str] = []
_loaded: tuple[InputFilter, ...] | None = None


def register(path: str) -> None:
    """Add the filter at dotted ``path`` (an app's ``ready()``); the same path twice is one."""
    global _loaded
    if path not in INPUT_FILTERS:
        INPUT_FILTERS.append(path)
        _loaded = None


def input_filters() -> tuple[InputFilter, ...]:
    """The functions of :data:`INPUT_FILTERS`, imported once per process."""
    global _loaded
    if _loaded is None:
        _loaded = tuple(import_string(p) for p in INPUT_FILTERS)
    return _loaded


def apply_input_filters(data: OrderInput, *, at: datetime) -> tuple[OrderInput, list[Recorder]]:
    """``data`` through every filter in order, and the recorders to call once the order exists."""
    recorders: list[Recorder] = []
    for fn in input_filters():
        data, recorder = fn(data, at=at)
        if recorder is not None:
            recorders.append(recorder)
    return data, recorders
