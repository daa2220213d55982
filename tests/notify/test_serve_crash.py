"""`orderhub serve` for real (a subprocess on a free port, its job runner delivering to an HTTP
receiver on loopback): killed with -9 in the middle of 200 webhook deliveries it leaves no
process and no bound port behind, a new `orderhub serve` on the same port comes up and delivers
the rest: none lost, and a duplicate (if any) carries the same idempotency key. The runner is
supervised: killed on its own, the server starts another."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from orderhub.notify.models import Message
from orderhub.notify.services import Recipient, endpoint_save, notify
from tests.pgroles import server_in_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
N = 200


def _db_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{server_in_url(s['HOST'], s['PORT'])}/{s['NAME']}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    """Bindable as a server binds it (SO_REUSEADDR: connections in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                out.append(int(d.name))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def _wait(cond, timeout: float, what: str, log: Path | None = None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    tail = log.read_text()[-4000:] if log is not None and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


class Server:
    """`python -m orderhub.cli serve` in its own session (so the test can clean up after it)."""

    def __init__(self, port: int, data_dir: Path, log: Path, **env_extra: str):
        env = {**os.environ, "DATABASE_URL": _db_url(), "ORDERHUB_DATA_DIR": str(data_dir),
               "ORDERHUB_SECRET_KEY": settings.SECRET_KEY, "ORDERHUB_AUDIT_KEY": settings.ORDERHUB_AUDIT_KEY,
               "ORDERHUB_ENCRYPTION_KEY": settings.ORDERHUB_ENCRYPTION_KEY, "ORDERHUB_JOBS": "embedded",
               "ORDERHUB_LOG_LEVEL": "WARNING", "ORDERHUB_ALLOWED_HOSTS": "127.0.0.1", **env_extra}
        env.pop("ORDERHUB_ALLOW_TRUNCATE", None)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.port, self.log_path = port, log
        self.log = open(log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orderhub.cli", "serve", "--port", str(port), "--workers", "1"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def health(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return 0

    def runner_pid(self) -> int | None:
        return next((p for p in _children(self.proc.pid) if "orderhub.cli runner" in _cmdline(p)), None)

    def wait_ready(self, timeout: float = 120):
        _wait(lambda: self.proc.poll() is None and self.health() == 200 and self.runner_pid(), timeout,
              "the server to be healthy with its runner", self.log_path)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)      # whatever is left of this session
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait(10)
        self.log.close()


def _queue(n: int, prefix: str):
    with transaction.atomic():
        for i in range(n):
            notify(event="rule.notify", recipients=[Recipient.webhook("erp")], context={"message": f"m{i}"},
                   dedupe_key=f"{prefix}{i:03d}")


def _delivered() -> int:
    return Message.objects.filter(status=Message.Status.DELIVERED).count()


@pytest.fixture
def erp(company, receiver):
    endpoint_save(code="erp", name="ERP", kind="webhook", actor=company["actors"]["admin"],
                  timeout_seconds=10, config={"url": f"{receiver.url}/hook", "secret": "k"})
    receiver.delay = 0.03          # each delivery takes a moment: the kill lands mid-way
    return receiver


@pytest.mark.parametrize("victim", ["master", "group"])
def test_kill_9_mid_delivery_loses_nothing_and_restarts_on_the_same_port(erp, tmp_path, victim):
    """``master``: kill -9 of `orderhub serve` alone (its runner finishes the message in hand and
    gives the rest back). ``group``: kill -9 of every process at once (the message in flight is
    sent again after its lease, 3 s here, with the same idempotency key)."""
    receiver = erp
    port = _free_port()
    lease = {"ORDERHUB_NOTIFY_LEASE_SECONDS": "3"} if victim == "group" else {}
    first = Server(port, tmp_path / "data", tmp_path / "serve1.log", **lease)
    second = None
    try:
        first.wait_ready()
        _queue(N, "k")
        # mid-claim (a deliverer claims 20 at a time): the kill finds claimed rows not yet sent
        _wait(lambda: len(receiver.requests) >= 50, 120, "50 deliveries", first.log_path)
        master = first.proc.pid
        family = _children(master)                       # the gunicorn worker and the runner
        assert len(family) == 2 and first.runner_pid() in family, [_cmdline(p) for p in family]
        sent_before = len(receiver.requests)
        killed_at = time.monotonic()
        if victim == "master":
            os.kill(master, signal.SIGKILL)              # the master only, as an OOM killer or kill -9 would
        else:
            os.killpg(master, signal.SIGKILL)            # everything at once, mid-send
        first.proc.wait(10)
        _wait(lambda: not any(_alive(p) for p in family), 15, "the old worker and runner to exit")
        gone_after = time.monotonic() - killed_at
        _wait(lambda: _port_free(port), 10, "the port to be free")
        free_after = time.monotonic() - killed_at
        in_flight = Message.objects.filter(status=Message.Status.SENDING).count()
        delivered_at_kill = _delivered()
        assert 0 < delivered_at_kill < N, delivered_at_kill      # the kill did land mid-delivery
        second = Server(port, tmp_path / "data", tmp_path / "serve2.log", **lease)
        second.wait_ready()
        _wait(lambda: _delivered() == N, 180, f"all {N} delivered after the restart", second.log_path)
        log2 = second.log_path.read_text()
    finally:
        first.stop()
        if second is not None:
            second.stop()
    rows = {m.idempotency_key: m for m in Message.objects.all()}
    assert len(rows) == N
    seen = Counter(r["headers"]["Idempotency-Key"] for r in receiver.requests)
    lost = set(rows) - set(seen)
    doubled = {k: n for k, n in seen.items() if n > 1}
    print(f"\nkill -9 of {'orderhub serve' if victim == 'master' else 'its whole process group'} after {sent_before} of {N} sent ({delivered_at_kill} recorded, "
          f"{in_flight} left sending): old processes gone after {gone_after:.2f} s, port free after "
          f"{free_after:.2f} s; lost {len(lost)}, delivered twice {len(doubled)}")
    assert not lost                                       # nothing lost
    assert set(seen) <= set(rows)
    for key in doubled:                                   # a duplicate is recognisable by its key
        bodies = {__import__("json").loads(r["body"])["idempotency_key"]
                  for r in receiver.requests if r["headers"]["Idempotency-Key"] == key}
        assert bodies == {key}
    assert len(doubled) <= 1                              # at most the one in flight
    assert "Address already in use" not in log2
    if victim == "master":
        assert in_flight == 0 and not doubled   # the dying runner finished its message, gave the rest back


def test_the_runner_is_restarted_when_it_dies(erp, tmp_path):
    receiver = erp
    receiver.delay = 0.0
    port = _free_port()
    server = Server(port, tmp_path / "data", tmp_path / "serve.log", ORDERHUB_NOTIFY_LEASE_SECONDS="3",
                    ORDERHUB_METRICS_TOKEN="tok-serve")
    try:
        server.wait_ready()
        runner = server.runner_pid()
        os.kill(runner, signal.SIGKILL)
        _wait(lambda: server.runner_pid() not in (None, runner), 30, "a new runner", server.log_path)
        assert server.proc.poll() is None and server.health() == 200
        _queue(20, "r")
        _wait(lambda: _delivered() == 20, 60, "deliveries by the new runner", server.log_path)
        assert "job runner exited (signal 9)" in server.log_path.read_text()
        # the runner's counters reach the workers' /metrics (prometheus multiprocess mode)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                     headers={"Authorization": "Bearer tok-serve"})
        with urllib.request.urlopen(req, timeout=5) as r:
            text = r.read().decode()
        line = next(ln for ln in text.splitlines()
                    if ln.startswith('orderhub_notify_deliveries_total{channel="webhook",outcome="delivered"}'))
        assert float(line.split()[-1]) == 20.0
        assert 'orderhub_http_request_duration_seconds_count{method="GET",route="healthz",status="200"}' in text
    finally:
        server.stop()
    assert len({r["headers"]["Idempotency-Key"] for r in receiver.requests}) == 20
