"""Production refuses a bad configuration, through the real `orderhub` command; a good production
configuration passes `manage.py check --deploy` with no warning; the demo stays zero-config."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ORDERHUB = [sys.executable, "-m", "orderhub.cli"]
GOOD = {
    "ORDERHUB_ENV": "production",
    "ORDERHUB_SECRET_KEY": "Wm9rG4tq2c8ZpA7sVb1Lx3nHd5Jf6Kg0Qe9Rr2Ty4Uu6Ii8Oo1Pp3Aa5Ss7Dd9Ff2Gg",
    "ORDERHUB_AUDIT_KEY": "audit-7f3a9c1e5b2d8f4a6c0e9b3d7f1a5c8e2b6d",
    "ORDERHUB_ENCRYPTION_KEY": "enc-4b8e2a6c0f9d3b7e1a5c9f2d6b0e4a8c3f7d",
    "ORDERHUB_ALLOWED_HOSTS": "orderhub.example.com",
}
# the keys and switches a developer's shell may hold, which these runs must not inherit
SCRUB = ("ORDERHUB_SECRET_KEY", "ORDERHUB_AUDIT_KEY", "ORDERHUB_ENCRYPTION_KEY", "ORDERHUB_DEBUG", "ORDERHUB_ENV",
         "ORDERHUB_HTTPS", "ORDERHUB_ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE", "ORDERHUB_JOBS", "DATABASE_URL",
         "DJANGO_ALLOW_ASYNC_UNSAFE")  # the browser tests set the last one in this process


def _env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    env.update({"ORDERHUB_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT / "src"),
                "ORDERHUB_CACHE_URL": os.environ.get("ORDERHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")})
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def _run(args, env, timeout=120):
    return subprocess.run(args, env=env, cwd=env["ORDERHUB_DATA_DIR"], capture_output=True, text=True,
                          timeout=timeout)


def test_check_deploy_is_clean_in_production(tmp_path):
    done = _run([sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
                _env(tmp_path, **GOOD))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (1 silenced)." in done.stdout  # security.W021, see settings
    # the same production without HTTPS is not clean: the check is real
    plain = _run([sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
                 _env(tmp_path, **GOOD, ORDERHUB_HTTPS="0"))
    assert plain.returncode != 0
    for code in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert code in plain.stderr


@pytest.mark.parametrize(("change", "named"), [
    ({"ORDERHUB_SECRET_KEY": None}, "ORDERHUB_SECRET_KEY is not set"),
    ({"ORDERHUB_SECRET_KEY": "short-secret"}, "ORDERHUB_SECRET_KEY is too short"),
    ({"ORDERHUB_SECRET_KEY": "django-insecure-" + "x" * 50}, "ORDERHUB_SECRET_KEY is too short or too simple"),
    ({"ORDERHUB_AUDIT_KEY": None}, "ORDERHUB_AUDIT_KEY is not set"),
    ({"ORDERHUB_ENCRYPTION_KEY": "a" * 40}, "ORDERHUB_ENCRYPTION_KEY is too short or too simple"),
    ({"ORDERHUB_DEBUG": "1"}, "ORDERHUB_DEBUG is on"),
])
def test_serve_refuses_a_bad_production_configuration_naming_the_variable(tmp_path, change, named):
    done = _run([*ORDERHUB, "serve", "--port", "1"], _env(tmp_path, **{**GOOD, **change}))
    assert done.returncode == 2, done.stdout + done.stderr
    assert named in done.stderr and "refusing to start" in done.stderr
    assert not (tmp_path / "static" / "web").exists()  # it stopped before doing anything


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serves(env, port: int, host: str = "127.0.0.1") -> int:
    """Start `orderhub serve`, wait for its first answer to GET /login/, stop it: the status."""
    proc = subprocess.Popen([*ORDERHUB, "serve", "--port", str(port), "--workers", "1"], env=env,
                            cwd=env["ORDERHUB_DATA_DIR"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/login/", headers={"Host": host})
                with urllib.request.urlopen(req, timeout=20) as resp:
                    return resp.status
            except urllib.error.HTTPError as e:
                return e.code
            except OSError:
                time.sleep(0.5)
        raise AssertionError("serve did not answer within 120 s")
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have ended on its own
            os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_a_good_production_configuration_starts_and_the_demo_needs_none(tmp_path):
    urllib.request.install_opener(urllib.request.build_opener(_NoRedirect()))
    try:
        prod = tmp_path / "prod"
        prod.mkdir()
        # production: HTTPS is on, so plain HTTP is redirected (301) by the running server
        assert _serves(_env(prod, **GOOD, ORDERHUB_JOBS="celery"), _free_port(), "orderhub.example.com") == 301
        # the demo's serve: no keys, no settings at all (they are made under DATA_DIR/keys)
        demo = tmp_path / "demo"
        demo.mkdir()
        assert _serves(_env(demo, ORDERHUB_JOBS="celery"), _free_port()) == 200
        assert sorted(p.name for p in (demo / "keys").iterdir()) == ["audit.key", "encryption.key", "secret.key"]
    finally:
        urllib.request.install_opener(urllib.request.build_opener())
