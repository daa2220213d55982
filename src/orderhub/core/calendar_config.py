"""The company's business calendar: statutory China calendar plus admin overrides."""

import threading
import time as _time

from django.conf import settings

from .calendar import DEFAULT_PERIODS, BusinessCalendar
from .models import CalendarOverride

_TTL_SECONDS = 60
_lock = threading.Lock()
_cached: tuple[float, BusinessCalendar] | None = None


def get_business_calendar() -> BusinessCalendar:
    """The calendar with overrides, cached per process for a minute (cleared on edit)."""
    global _cached
    with _lock:
        if _cached is not None and _time.monotonic() - _cached[0] < _TTL_SECONDS:
            return _cached[1]
    overrides = dict(CalendarOverride.objects.values_list("date", "is_workday"))
    cal = BusinessCalendar(
        periods=getattr(settings, "ORDERHUB_WORKING_PERIODS", DEFAULT_PERIODS),
        overrides=overrides,
        tz=settings.TIME_ZONE,
    )
    with _lock:
        _cached = (_time.monotonic(), cal)
    return cal


def clear_calendar_cache() -> None:
    global _cached
    with _lock:
        _cached = None
