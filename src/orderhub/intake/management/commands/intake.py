"""`orderhub intake …`: replay, poll-imap, import [--workers N] (CSV/XLSX/JSON through a channel's
mapping, or an .eml file), load-master, install-templates, resume, run (a job an upload page started), process-pending."""

from __future__ import annotations

import json
import mimetypes
import signal
import sys
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orderhub.catalog.imports import master_import
from orderhub.core.actors import Actor
from orderhub.core.errors import DomainError
from orderhub.intake import selectors, services
from orderhub.intake.models import Draft, ImportJob, InboundMessage, InboundOrder


class Command(BaseCommand):
    help = "Intake gateway: replay messages, poll the IMAP mailbox, import files, install templates."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="act as this user (default: a system job)")
        sub = parser.add_subparsers(dest="action", required=True)
        r = sub.add_parser("replay", help="run failed messages again through the current mapping")
        r.add_argument("id", nargs="?", type=int)
        r.add_argument("--failed", action="store_true", help="every failed message")
        r.add_argument("--channel")
        p = sub.add_parser("poll-imap", help="fetch unseen e-mail (ORDERHUB_IMAP_* settings)")
        p.add_argument("--host")
        p.add_argument("--port", type=int)
        p.add_argument("--imap-user")
        p.add_argument("--password")
        p.add_argument("--mailbox")
        p.add_argument("--no-ssl", action="store_true")
        i = sub.add_parser("import", help="import a CSV/XLSX/JSON file through a channel's mapping, or an "
                                          "e-mail (.eml) with its attachments; exits 1 when nothing was accepted")
        i.add_argument("file")
        i.add_argument("--channel", help="the channel whose mapping reads the file (not needed for .eml)")
        i.add_argument("--mode", default="accept_valid", choices=list(ImportJob.Mode.values))
        i.add_argument("--workers", type=int, default=1,
                       help=gettext_lazy("processes importing the file at once (accept_valid; PostgreSQL)"))
        m = sub.add_parser("resume", help="finish imports a crash left running")
        m.add_argument("--workers", type=int,
                       help=gettext_lazy("processes per import split in chunks (default: as started)"))
        sub.add_parser("run", help="import the job an upload page started (told as JSON on standard input: "
                                   "the job, its database, the workers and the starter)")
        q = sub.add_parser("process-pending", help="parse queued webhooks (ORDERHUB_INTAKE_WEBHOOK_MODE=queue)")
        q.add_argument("--loop", action="store_true", help="keep waiting for new ones (until SIGTERM/SIGINT)")
        q.add_argument("--batch", type=int, default=20, help="messages per transaction")
        q.add_argument("--idle", type=float, default=0.2, help="seconds to wait when the queue is empty")
        sub.add_parser("install-templates", help="seed the shipped mappings and rules")
        lm = sub.add_parser("load-master", help="customers.csv and products.csv from a folder (created or updated)")
        lm.add_argument("folder")

    def _actor(self, user: str | None) -> Actor:
        if not user:
            return Actor.system("cli:intake")
        account = get_user_model().objects.filter(username=user, is_active=True).first()
        if account is None:
            raise CommandError(f"No active user '{user}'.")
        return Actor.for_user(account, label=f"cli:{user}")

    def _out(self, data) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False, default=str, indent=1))

    def handle(self, *args, action, user=None, **opts):
        actor = self._actor(user)
        try:
            if action == "replay":
                if opts["failed"]:
                    done = services.inbound_replay_failed(actor=actor, channel=opts.get("channel"))
                elif opts.get("id"):
                    done = [services.inbound_replay(message=opts["id"], actor=actor)]
                else:
                    raise CommandError("give a message id or --failed")
                self._out([{"id": m.pk, "status": m.status, "errors": m.errors[:5]} for m in done])
            elif action == "poll-imap":
                base = services.ImapSettings.from_settings()
                imap = services.ImapSettings(
                    host=opts.get("host") or base.host, port=opts.get("port") or base.port,
                    user=opts.get("imap_user") or base.user, password=opts.get("password") or base.password,
                    mailbox=opts.get("mailbox") or base.mailbox, ssl=base.ssl and not opts.get("no_ssl"))
                if not imap.host:
                    raise CommandError("no IMAP host: set ORDERHUB_IMAP_HOST or pass --host")
                got = services.email_poll(imap=imap, actor=actor)
                self._out([{"id": m.pk, "status": m.status, "from": m.source} for m in got])
            elif action == "import":
                path = Path(opts["file"])
                if not path.is_file():
                    raise CommandError(f"no such file: {path}")
                if path.suffix.lower() == ".eml" or opts.get("channel") == services.EMAIL_CHANNEL:
                    self._import_email(path, actor)
                    return
                if not opts.get("channel"):
                    raise CommandError(_("--channel is required (the channel whose mapping reads the file)."))
                if opts["workers"] < 1:
                    raise CommandError(_("--workers must be at least 1."))
                if opts["workers"] > 1 and opts["mode"] != ImportJob.Mode.ACCEPT_VALID:
                    raise CommandError(_("--workers applies to accept_valid imports (all_or_nothing is one "
                                         "transaction)."))
                job = services.upload_import(channel=opts["channel"], filename=path.name,
                                             content=path.read_bytes(), actor=actor, mode=opts["mode"],
                                             content_type=mimetypes.guess_type(path.name)[0] or "",
                                             source=f"cli:{path}", workers=opts["workers"])
                self._out({**selectors.job_dict(job), "message_status": job.message.status,
                           "errors": job.message.errors[:50]})
                if not job.orders_created and not job.duplicates:  # a script must see that it failed
                    raise CommandError(_("Nothing was accepted: no order was created from %(file)s (message "
                                         "%(id)d is %(status)s).")
                                       % {"file": path.name, "id": job.message_id,
                                          "status": job.message.get_status_display()})
            elif action in ("resume", "run"):
                self._jobs(action, actor, opts.get("workers"))
            elif action == "process-pending":
                self._process_pending(loop=opts["loop"], batch=max(1, opts["batch"]), idle=opts["idle"])
            elif action == "load-master":
                folder = Path(opts["folder"])
                files = {name: folder / f"{name}.csv" for name in ("customers", "products")}
                if not any(p.is_file() for p in files.values()):
                    raise CommandError(_("No customers.csv or products.csv in %(folder)s.") % {"folder": folder})
                done = master_import(actor=actor, **{k: p.read_bytes() for k, p in files.items() if p.is_file()})
                self._out(done)
                if done["errors"]:
                    raise CommandError(_("%(n)d rows were refused.") % {"n": len(done["errors"])})
            elif action == "install-templates":
                saved = services.config_install_templates(actor=actor)
                self._out([f"{v.kind}:{v.code} v{v.version}" for v in saved])
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _jobs(self, action: str, actor: Actor, workers: int | None) -> None:
        """``resume``: every import a crash left running. ``run``: the one an upload page
        started (``intake.services.background``), told on this process's standard input."""
        if action == "resume":
            jobs = ImportJob.objects.filter(status=ImportJob.Status.RUNNING).order_by("pk")
            self._out([selectors.job_dict(services.upload_run(job=j, actor=actor, workers=workers)) for j in jobs])
            return
        from orderhub.intake.services.background import run_told

        try:
            job = run_told(json.loads(sys.stdin.read() or "{}"))
        except (ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"intake run: {exc}") from exc
        self._out(selectors.job_dict(job))

    def _import_email(self, path: Path, actor: Actor) -> None:
        """An e-mail saved from a mail program: stored raw, split into its attachments, each
        read by its route (a channel's mapping, or OCR into a draft a person confirms)."""
        msg = services.email_receive(raw=path.read_bytes(), actor=actor, source=f"cli:{path}")
        msg = services.email_process(message=msg, actor=actor)
        self._out({"message": msg.pk, "status": msg.status, "errors": msg.errors[:50],
                   "attachments": msg.report.get("attachments", []),
                   "orders": list(InboundOrder.objects.filter(message__parent=msg).order_by("pk")
                                  .values_list("order__number", flat=True)),
                   "drafts": list(Draft.objects.filter(message__parent=msg).order_by("pk")
                                  .values_list("pk", flat=True))})
        if msg.status == InboundMessage.Status.FAILED:
            raise CommandError(_("Nothing was accepted from %(file)s: %(why)s")
                               % {"file": path.name, "why": "; ".join(e.get("message", "") for e in msg.errors[:3])})

    def _process_pending(self, *, loop: bool, batch: int, idle: float) -> None:
        """Drain the queue (``--loop``: and keep draining). A SIGTERM/SIGINT stops after the
        batch in hand; a SIGKILL rolls the batch back, and the next run takes it again."""
        stop = []

        def request_stop(signum, frame):
            stop.append(signum)

        old = {s: signal.signal(s, request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        done = {"processed": 0, "statuses": {}}
        try:
            while not stop:
                got = services.inbound_process_pending(limit=batch)
                for m in got:
                    done["processed"] += 1
                    done["statuses"][m.status] = done["statuses"].get(m.status, 0) + 1
                if not got:
                    if not loop:
                        break
                    time.sleep(idle)
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        self._out(done)
