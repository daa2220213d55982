"""The app's PostgreSQL connections run without JIT compilation (settings; issue 20: compiling a
batch move's statements cost ~35 ms at every execution once their estimated cost grew)."""

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_the_apps_connections_run_without_jit():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cur:
        cur.execute("SHOW jit")
        assert cur.fetchone()[0] == "off"
