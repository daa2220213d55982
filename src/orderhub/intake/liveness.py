"""Whether anything still imports a file: a lock PostgreSQL frees when its holder dies.

Every process that imports a job's file (``upload_run``: the web thread, ``orderhub intake
run``, the command line) holds the job's *liveness lock* while it does: a shared session-level
advisory lock, on a connection of its own that lives exactly as long as the import. Forked
workers inherit that connection's socket, so the lock stays held while any of them lives, and
the server frees it the moment the last one of them ends, however it ended (finished, killed,
the machine restarted). Whoever asks (:func:`importer_alive`) tries to take it exclusively:
granted means nothing imports the job any more.

Progress alone could not tell a dead import from a slow one (a chunk waiting for a lock);
this can, so a stalled import is resumed without a person (``background.imports_resume_stalled``)
and never while something still imports it. SQLite has no such lock: there
:func:`importing` does nothing and :func:`importer_alive` cannot tell (None).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

# the advisory lock key of job n is KEY + n ("OHIM" in the high half: apart from other locks)
KEY = 0x4F48_494D << 32
# what Django adds to a connection's parameters for its own cursors (not libpq settings)
_DJANGO_PARAMS = ("context", "cursor_factory", "prepare_threshold", "server_side_binding")
# the system actor that resumes a stalled import (``background.imports_resume_stalled``;
# ``web.labels`` names it)
WATCHDOG = "import-watchdog"


def _postgres() -> bool:
    return connection.vendor == "postgresql"


@contextmanager
def importing(job_id: int) -> Iterator[None]:
    """Hold ``job_id``'s liveness lock for the block (shared: a process that carries on a split
    job beside another holds it too)."""
    if not _postgres():
        yield
        return
    import psycopg

    params = {k: v for k, v in connection.get_connection_params().items() if k not in _DJANGO_PARAMS}
    held = psycopg.connect(**params, autocommit=True)
    try:
        held.execute("SELECT pg_advisory_lock_shared(%s)", [KEY + job_id])
        yield
    finally:
        # let go before closing (which ends the session, workers or not): the server frees a
        # closed session's locks a moment later, and whoever asked right after could still find
        # this one held
        try:
            held.execute("SELECT pg_advisory_unlock_shared(%s)", [KEY + job_id])
        except psycopg.Error:  # the connection broke: the server frees the lock with it
            pass
        held.close()


def importer_alive(job_id: int) -> bool | None:
    """Whether some process still imports ``job_id``'s file (holds its liveness lock); None
    where that cannot be told (SQLite)."""
    if not _postgres():
        return None
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [KEY + job_id])
        free = cur.fetchone()[0]
        if free:
            cur.execute("SELECT pg_advisory_unlock(%s)", [KEY + job_id])
    return not free
