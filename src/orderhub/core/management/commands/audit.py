"""`orderhub audit verify` and `orderhub audit checkpoint` (core.audit_verify, core.checkpoints).

Core imports no app: apps register how their subjects are named and where their heads are
(``core.audit_chains.register_subject``), e.g. orders in ``OrdersConfig.ready``."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from orderhub.core.audit_verify import verify
from orderhub.core.checkpoints import checkpoint_dir, checkpoint_write


class Command(BaseCommand):
    help = ("`audit verify`: walk every chain, head, snapshot and the newest signed checkpoint; exit 1 "
            "and list each break. `audit checkpoint`: write a signed checkpoint of the chain heads now.")

    def add_arguments(self, parser):
        parser.add_argument("--language", default=None,
                            help="language of the report (zh-hans, en); default: the site's language")
        sub = parser.add_subparsers(dest="action", required=True)
        v = sub.add_parser("verify")
        v.add_argument("--checkpoint-dir", type=Path, default=None)
        c = sub.add_parser("checkpoint")
        c.add_argument("--checkpoint-dir", type=Path, default=None)

    def handle(self, *args, action, language=None, checkpoint_dir=None, **opts):
        with translation.override(language or settings.LANGUAGE_CODE):
            if action == "checkpoint":
                return self._checkpoint(checkpoint_dir)
            return self._verify(checkpoint_dir)

    def _verify(self, directory):
        report = verify(directory=directory)
        self.stdout.write(_("Checked %(events)s events of %(subjects)s subjects.") % {
            "events": report.events, "subjects": report.subjects})
        cp = report.checkpoint
        if cp is not None:
            self.stdout.write(_("Compared with checkpoint %(name)s of %(time)s (%(n)s subjects).") % {
                "name": cp.name, "time": cp.when, "n": cp.subjects})
        else:
            self.stdout.write(self.style.WARNING(_(
                "No valid checkpoint in %(dir)s yet: a deleted tail with its head moved back, or a chain "
                "re-hashed with the key, cannot be detected until one is written (orderhub audit "
                "checkpoint).") % {"dir": directory or checkpoint_dir()}))
        if report.legacy_events:
            self.stdout.write(self.style.WARNING(_(
                "%(events)s legacy events of %(subjects)s subjects were made before keyed MACs: they are "
                "checked by SHA-256 only, and protected only once a checkpoint covers them.") % {
                "events": report.legacy_events, "subjects": report.legacy_subjects}))
        for finding in report.findings:
            self.stdout.write(self.style.ERROR(_("BROKEN %(what)s") % {"what": finding}))
        if report.findings:
            raise CommandError(_("%(n)s problem(s) found in the audit log.") % {"n": len(report.findings)})
        self.stdout.write(self.style.SUCCESS(_("OK: every chain intact.")))

    def _checkpoint(self, directory):
        result = checkpoint_write(directory=directory)
        if result.refused:
            for finding in result.refused:
                self.stdout.write(self.style.ERROR(_("BROKEN %(what)s") % {"what": finding}))
            raise CommandError(_("No checkpoint written: the database contradicts the previous checkpoint "
                                 "(%(n)s problem(s)).") % {"n": len(result.refused)})
        if result.unchanged:
            self.stdout.write(_("Nothing changed since the newest checkpoint; none written."))
        else:
            self.stdout.write(self.style.SUCCESS(_("Checkpoint %(path)s written: %(n)s subjects in %(s).1f s.") % {
                "path": result.path, "n": result.subjects, "s": result.seconds}))
