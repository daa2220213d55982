from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from orderhub.core.tokens import token_create


class Command(BaseCommand):
    help = "API tokens for systems: `token create --user USER --name NAME` prints the token once."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("--user", required=True, help="the user the system acts as")
        create.add_argument("--name", required=True, help="what the token is for, e.g. erp")

    def handle(self, *args, action, user, name, **opts):
        account = get_user_model().objects.filter(username=user, is_active=True).first()
        if account is None:
            raise CommandError(f"No active user '{user}'.")
        _, raw = token_create(user=account, name=name)
        self.stdout.write(raw)
