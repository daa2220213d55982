from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orderhub.core import crypto
from orderhub.core.actors import Actor
from orderhub.core.audit import append_event


class Command(BaseCommand):
    help = ("Re-encrypt the stored secrets under ORDERHUB_ENCRYPTION_KEY (after moving the old key to "
            "ORDERHUB_ENCRYPTION_KEYS_RETIRED).")

    def handle(self, *args, **opts):
        try:
            done = crypto.rotate_all()
        except crypto.SecretUnreadable as e:
            raise CommandError(e.message) from e
        kid = crypto.key_id(settings.ORDERHUB_ENCRYPTION_KEY)
        append_event(subject_type="encryption_key", subject_id=0, action="crypto.secrets_rotated",
                     actor=Actor.system("rotate_secrets"), data={"key_id": kid, "rotated": done})
        for column, n in done.items():
            self.stdout.write(f"{column}: {n} re-encrypted under key {kid}")
