"""Garbage-collector control for bulk work.

A batch import builds tens of thousands of objects (model instances, dicts, JSON texts) that all
live until the batch commits. Each time enough of them accumulate, CPython's cyclic collector
runs, and now and then a full collection walks every object of the process (Django's own
included) to find nothing: about a tenth of a batch's CPU time. Bulk services run with the
collector paused; reference counting still frees everything that is not in a cycle, and the
collector resumes (and catches up on its own schedule) when the last pausing block ends.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_pausers = 0
_was_enabled = False


@contextmanager
def collector_paused():
    """Pause the cyclic garbage collector for the block. Nested blocks and blocks in several
    threads are counted: the collector is restored (if it was on before the first) when the
    last one ends."""
    global _pausers, _was_enabled
    with _lock:
        if _pausers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausers += 1
    try:
        yield
    finally:
        with _lock:
            _pausers -= 1
            if _pausers == 0 and _was_enabled:
                gc.enable()
