"""The one source of "now" for services, so imports, demos and tests can set the time.

Production code calls ``clock.now()``; ``clock.frozen(dt)`` pins it (per thread) for a block,
which is how the demo loader back-dates history and tests walk through business days.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone

_state = threading.local()


def now() -> datetime:
    pinned = getattr(_state, "pinned", None)
    return pinned if pinned is not None else timezone.now()


@contextmanager
def frozen(moment: datetime) -> Iterator[None]:
    if timezone.is_naive(moment):
        raise ValueError("clock.frozen needs an aware datetime")
    previous = getattr(_state, "pinned", None)
    _state.pinned = moment
    try:
        yield
    finally:
        _state.pinned = previous
