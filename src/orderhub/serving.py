"""`orderhub serve`: gunicorn in this process, the job runner as its supervised child.

Killing ``orderhub serve`` with -9 must leave nothing behind, so:

* this process *is* the gunicorn master (``gunicorn.app.base.BaseApplication``), not a parent of
  one: its workers ask the kernel for SIGTERM when it dies (``prctl(PR_SET_PDEATHSIG)`` in
  ``post_fork``) and gunicorn's own parent check stops them within a second anyway, so the
  listening port is free again; a new ``orderhub serve`` on the same port binds it (gunicorn
  retries the bind for five seconds while the old workers finish);
* in embedded mode (``ORDERHUB_JOBS=embedded``) the job runner (deliveries and periodic jobs) is
  a child process (``orderhub runner --parent <pid>``) that the master starts once it listens and
  restarts with backoff (1 s, 2 s, 4 s … 60 s) when it dies; it dies with the master
  (``notify.runner.run_supervised``). The master stays single-threaded (gunicorn's control socket
  thread is off), so forking workers stays safe.

Prometheus metrics of the workers and the runner are kept in ``PROMETHEUS_MULTIPROC_DIR``
(``DATA_DIR/run/metrics-<port>``, emptied at start; a dead worker's files are marked).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

logger = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
HEALTHY_AFTER = 30.0     # a runner that lived this long restarts after 1 s again


def data_dir() -> Path:
    """``ORDERHUB_DATA_DIR`` as the settings compute it (without loading them)."""
    return Path(os.environ.get("ORDERHUB_DATA_DIR", Path.cwd() / "var"))


def prepare_metrics_dir(port: int) -> Path:
    """An empty ``PROMETHEUS_MULTIPROC_DIR`` for this server, set in the environment before
    anything imports prometheus_client (workers and the runner inherit it)."""
    path = data_dir() / "run" / f"metrics-{port}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


class RunnerSupervisor:
    """Starts the runner child, notices when it dies, starts it again after a backoff."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.failures = 0
        self.next_start = 0.0
        self.stopping = False
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def tick(self) -> None:
        self.reap()
        if self.proc is None and not self.stopping and time.monotonic() >= self.next_start:
            self.spawn()

    def spawn(self) -> None:
        self.proc = subprocess.Popen([*self.argv, "--parent", str(os.getpid())], close_fds=True)
        self.started_at = time.monotonic()
        logger.warning("serve: job runner started (pid %s)", self.proc.pid)

    def reap(self) -> None:
        """Notice the runner's exit (gunicorn's waitpid(-1) may have reaped it already)."""
        if self.proc is None:
            return
        try:
            pid, status = os.waitpid(self.proc.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.proc.pid, None
        if pid == 0:
            return
        self.proc.returncode = -1 if status is None else os.waitstatus_to_exitcode(status)
        code, self.proc = self.proc.returncode, None
        if self.stopping:
            return
        lived = time.monotonic() - self.started_at
        self.failures = self.failures + 1 if lived < HEALTHY_AFTER else 1
        delay = min(2.0 ** (self.failures - 1), MAX_BACKOFF)
        self.next_start = time.monotonic() + delay
        self.restarts += 1
        logger.error("serve: job runner exited (%s) after %.1f s; restarting in %.0f s",
                     f"signal {-code}" if code < 0 else f"code {code}", lived, delay)

    def stop(self, timeout: float) -> None:
        """SIGTERM (the runner finishes the message in hand), then SIGKILL after ``timeout``."""
        self.stopping = True
        if self.proc is None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        end = time.monotonic() + timeout
        while self.proc is not None and time.monotonic() < end:
            self.reap()
            time.sleep(0.05)
        if self.proc is not None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            self.proc.wait(5)
            self.proc = None


class ServeArbiter(Arbiter):
    """gunicorn's arbiter that also supervises the job runner (in its own loop: no thread)."""

    runner: RunnerSupervisor | None = None

    def manage_workers(self):
        super().manage_workers()
        if self.runner is not None:
            self.runner.tick()

    def handle_chld(self):
        if self.runner is not None:
            self.runner.reap()      # before gunicorn's waitpid(-1) takes it as an unknown child
        super().handle_chld()

    handle_cld = handle_chld        # SIGCHLD's name in gunicorn's table is "chld" or "cld"

    def stop(self, graceful=True):
        if self.runner is not None:
            self.runner.stopping = True
            if self.runner.proc is not None:
                try:
                    self.runner.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        super().stop(graceful)
        if self.runner is not None:
            self.runner.stop(timeout=self.cfg.graceful_timeout if graceful else 2.0)


def _post_fork(server, worker) -> None:
    from orderhub.notify.runner import die_with_parent

    die_with_parent(signal.SIGTERM)


def _child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


class OrderHubServer(BaseApplication):
    def __init__(self, *, host: str, port: int, workers: int, threads: int = 4,
                 runner_argv: list[str] | None = None):
        self.options = {
            "bind": f"{host}:{port}", "workers": workers, "threads": threads,
            "worker_class": "gthread", "accesslog": "-", "proc_name": "orderhub",
            "control_socket_disable": True,   # no thread in the master, no socket left behind
            "post_fork": _post_fork, "child_exit": _child_exit,
        }
        self.runner_argv = runner_argv
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from orderhub.wsgi import application

        return application

    def run(self):
        arbiter = ServeArbiter(self)
        if self.runner_argv:
            arbiter.runner = RunnerSupervisor(self.runner_argv)
        try:
            arbiter.run()
        except RuntimeError as e:
            print(f"\nError: {e}\n", file=sys.stderr)
            sys.exit(1)


def serve(*, host: str, port: int, workers: int, embedded_runner: bool) -> int:
    """Serve until stopped (the caller has set Django up and collected the static files)."""
    from django.db import connections

    connections.close_all()      # nothing the workers or the runner could inherit
    runner_argv = [sys.executable, "-m", "orderhub.cli", "runner"] if embedded_runner else None
    OrderHubServer(host=host, port=port, workers=workers, runner_argv=runner_argv).run()
    return 0
