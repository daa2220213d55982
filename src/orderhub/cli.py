"""`orderhub`: the one command for operators.

    orderhub demo            set up the embedded demo and serve it
    orderhub serve           serve the web app and API (gunicorn; in embedded mode with the job runner)
    orderhub runner          deliver notifications and run the periodic jobs without a broker
    orderhub migrate         create/upgrade the database (as ORDERHUB_OWNER_DATABASE_URL's role if set)
    orderhub db init-roles | grant --app R | check     the owner and app roles (PostgreSQL)
    orderhub loaddemo        load the demo company into an empty database
    orderhub token create --user U --name N
    orderhub audit verify | checkpoint
    orderhub manage ...      any Django management command
    orderhub intake replay <id>|--failed · poll-imap · import FILE [--channel C] [--workers N] (also .eml) ·
                    load-master DIR · resume · process-pending [--loop] · install-templates
    orderhub worker [celery worker options]   deliver notifications, run jobs (Celery + Redis)
    orderhub beat [celery beat options]       schedule the periodic jobs (one per installation)
    orderhub bench list | all [--quick] | <scenario> [options] | datagen --orders N | summary
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderhub.settings")
    os.environ.setdefault("ORDERHUB_FAST_PASSWORD_HASHER", "0")
    import django

    django.setup()
    from django.core.management import call_command

    return call_command


def _database_ready() -> bool:
    """An embedded (SQLite) database must exist before a command uses it: say where it was
    looked for and how to make it, instead of creating an empty file and failing later."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3" or str(db["NAME"]) == ":memory:":
        return True
    path = Path(db["NAME"])
    if path.exists() and path.stat().st_size > 0:
        return True
    print(f"error: no OrderHub database at {path}. Run `orderhub demo` or `orderhub migrate` first, "
          "or point ORDERHUB_DATA_DIR (or DATABASE_URL) at the installation you mean.", file=sys.stderr)
    return False


def _preflight() -> None:
    """Refuse to start on a bad configuration: Django's system checks (with the deployment
    checks in production, ``orderhub.core.checks``); errors end the process naming what to fix."""
    _django()
    from django.conf import settings
    from django.core import checks

    found = checks.run_checks(include_deployment_checks=settings.ORDERHUB_PRODUCTION)
    errors = [m for m in found if m.level >= checks.ERROR and not m.is_silenced()]
    for m in found:
        if not m.is_silenced():
            print(f"{'error' if m.level >= checks.ERROR else 'warning'}: {m.msg}"
                  + (f" ({m.hint})" if m.hint else "") + f" [{m.id}]", file=sys.stderr)
    if errors:
        print("orderhub: refusing to start until the configuration errors above are fixed.", file=sys.stderr)
        raise SystemExit(2)


def _serve(host: str, port: int, workers: int) -> int:
    """gunicorn in this process; without a broker (ORDERHUB_JOBS=embedded) the job runner runs
    as its supervised child (``orderhub.serving``). Killed with -9, nothing stays behind."""
    _preflight()
    call = _django()
    call("collectstatic", "--noinput", verbosity=0)
    from django.conf import settings

    from orderhub import serving

    return serving.serve(host=host, port=port, workers=workers,
                         embedded_runner=settings.ORDERHUB_JOBS != "celery")


def _runner(parent: int | None, poll: float) -> int:
    """`orderhub runner`: the job runner in the foreground (started by `orderhub serve`, or on
    its own beside web processes that set ORDERHUB_JOBS=embedded)."""
    _django()
    from orderhub.notify.runner import run_supervised

    return run_supervised(parent_pid=parent, poll_seconds=poll)


def _celery(cmd: str, rest: list[str]) -> int:
    """`orderhub worker` / `orderhub beat`: Celery with the broker from REDIS_URL."""
    _django()
    from orderhub.celery import app

    argv = [cmd, "--loglevel", os.environ.get("ORDERHUB_LOG_LEVEL", "INFO"), *rest]
    if cmd == "beat":
        from django.conf import settings

        argv += ["--schedule", str(settings.DATA_DIR / "celerybeat-schedule")]
    app.start(argv=argv)
    return 0


def _migrate() -> int:
    """Migrate as the owner role (ORDERHUB_OWNER_DATABASE_URL) when one is set, then grant the
    app role (DATABASE_URL) its rights; without it, as DATABASE_URL's role (SQLite, or an
    install that has not split its roles yet: then that role owns the tables)."""
    owner_url = os.environ.get("ORDERHUB_OWNER_DATABASE_URL", "").strip()
    app_url = os.environ.get("DATABASE_URL", "")
    if owner_url:
        if not app_url:
            print("error: ORDERHUB_OWNER_DATABASE_URL is set but DATABASE_URL (the app role) is not",
                  file=sys.stderr)
            return 1
        os.environ["DATABASE_URL"] = owner_url   # this process is the owner
    call = _django()
    call("migrate")
    from django.db import connection

    from orderhub.core.services import roles_sync

    if owner_url:
        from orderhub.core.dbroles import RoleUrl, grant_app

        try:
            grant_app(app=RoleUrl.parse(app_url).user)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    elif connection.vendor == "postgresql":
        print("warning: ORDERHUB_OWNER_DATABASE_URL is not set: the app's own role owns the tables and "
              "can lift the audit guards (see `orderhub db init-roles` in the README)", file=sys.stderr)
    roles_sync()  # the role groups and their permissions exist on every install
    from orderhub.core.actors import Actor
    from orderhub.intake.services.config import config_install_missing

    config_install_missing(actor=Actor.system("migration"))  # shipped channel mappings and intake rules
    return 0


def _bench(rest: list[str]) -> int:
    """Run bench/bench.py of the source checkout (the benchmarks are not part of the package)."""
    from pathlib import Path

    runner = Path(__file__).resolve().parents[2] / "bench" / "bench.py"
    if not runner.exists():
        print(f"error: {runner} not found: benchmarks run from a source checkout", file=sys.stderr)
        return 1
    return subprocess.call([sys.executable, str(runner), *rest], cwd=runner.parent.parent)


def _print_logins(host: str, port: int) -> None:
    from orderhub.demo.loader import USERS, password_for

    print(f"\nOrderHub 订单中枢 is at http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs)")
    print("Log in as (user / password):")
    for name in USERS:
        print(f"  {name:<20} {password_for(name)}")
    print()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("worker", "beat"):  # every other option goes to Celery as is
        return _celery(argv[0], argv[1:])
    if argv[:1] == ["bench"]:  # everything after it (options too) belongs to bench/bench.py
        return _bench(argv[1:])
    if argv[:1] in (["intake"], ["db"]) and argv[1:] in ([], ["-h"], ["--help"]):
        # the subcommands live in the management command: its own help lists every one of them
        _django()
        from django.core.management import execute_from_command_line

        execute_from_command_line(["orderhub", argv[0], "--help"])
        return 0
    args = _parser().parse_args(argv)
    if args.cmd in ("demo", "serve"):
        # before anything imports prometheus_client: the workers share their metrics there
        from orderhub.serving import prepare_metrics_dir

        prepare_metrics_dir(args.port)

    from django.core.management.base import CommandError

    try:
        return _run(args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orderhub", description="OrderHub 订单中枢")
    sub = parser.add_subparsers(dest="cmd", required=True)
    helps = {"demo": "load the demo company into the data folder (once) and serve it with the job runner",
             "serve": "serve the web UI and the API (gunicorn master with a supervised job runner)"}
    for name in ("demo", "serve"):
        p = sub.add_parser(name, help=helps[name], description=helps[name])
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.add_argument("--workers", type=int, default=2)
        if name == "demo":
            p.add_argument("--orders", type=int, default=300)
    p = sub.add_parser("runner", help="deliver notifications and run the periodic jobs (no broker)")
    p.add_argument("--parent", type=int, default=None, help="stop when this process (the server) dies")
    p.add_argument("--poll", type=float, default=0.5, help="seconds between delivery rounds")
    sub.add_parser("migrate", help="create or upgrade the database tables (and the shipped templates)")
    p = sub.add_parser("loaddemo", help="load the demo company's master data and sample orders")
    p.add_argument("--orders", type=int, default=300)
    p = sub.add_parser("token", help="create · an API token for a user (printed once)")
    tsub = p.add_subparsers(dest="action", required=True)
    c = tsub.add_parser("create", help="a new API token for --user, named --name")
    c.add_argument("--user", required=True)
    c.add_argument("--name", required=True)
    p = sub.add_parser("audit", help="verify · checkpoint: check the tamper-evident history")
    asub = p.add_subparsers(dest="action", required=True)
    asub.add_parser("verify", help="walk every hash chain and report any break")
    asub.add_parser("checkpoint", help="record a signed checkpoint of every chain's head")
    p = sub.add_parser("db", help="init-roles · grant --app R · check")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p = sub.add_parser("manage", help="any Django management command (orderhub manage help)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    for name in ("worker", "beat"):
        p = sub.add_parser(name, help=f"celery {name} (options are passed on)")
        p.add_argument("rest", nargs=argparse.REMAINDER)
    p = sub.add_parser("intake", help="replay · poll-imap · import FILE [--channel C] · load-master DIR · resume · "
                                      "install-templates · process-pending [--loop]")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p = sub.add_parser("bench", help="list · all [--quick] · <scenario> [options] · datagen · summary",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.cmd == "demo":
        call = _django()
        call("migrate", verbosity=0)
        from orderhub.orders.models import Order

        if not Order.objects.exists():
            print("Loading the demo company ...")
            call("loaddemo", orders=args.orders)
        from django.conf import settings

        from orderhub.demo.intake import demo_intake_setup, print_intake
        from orderhub.demo.portal import print_portal

        intake = demo_intake_setup()
        # no mail server in the demo: the portal's sign-in page shows the code it sent (marked)
        settings.ORDERHUB_PORTAL_SHOW_CODES = True
        os.environ["ORDERHUB_PORTAL_SHOW_CODES"] = "1"   # and in any process started from here
        _print_logins(args.host, args.port)
        print_intake(intake, args.host, args.port)
        print_portal(args.host, args.port)
        return _serve(args.host, args.port, args.workers)
    if args.cmd == "serve":
        return _serve(args.host, args.port, args.workers)
    if args.cmd == "runner":
        return _runner(args.parent, args.poll)
    if args.cmd == "migrate":
        return _migrate()
    call = _django()
    if args.cmd in ("loaddemo", "token", "audit", "intake") and not _database_ready():
        return 2
    if args.cmd == "loaddemo":
        call("loaddemo", orders=args.orders)
    elif args.cmd == "token":
        call("token", "create", user=args.user, name=args.name)
    elif args.cmd == "audit":
        call("audit", args.action)
    elif args.cmd == "db":
        call("db", *args.rest)
    elif args.cmd == "intake":
        call("intake", *args.rest)
    elif args.cmd == "manage":
        from django.core.management import execute_from_command_line

        execute_from_command_line(["orderhub", *args.rest])
    return 0


if __name__ == "__main__":
    sys.exit(main())
