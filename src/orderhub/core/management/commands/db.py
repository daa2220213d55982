"""`orderhub db init-roles | grant | check`: the owner and app roles of a PostgreSQL install
(orderhub.core.dbroles)."""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from orderhub.core import dbroles


class Command(BaseCommand):
    help = ("init-roles: create the owner and app roles and the database (as a superuser); grant: give "
            "the app role its rights (as the owner); check: say whether the app role could lift the "
            "audit guards")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        i = sub.add_parser("init-roles", help="run once on a fresh server, then `orderhub migrate`")
        i.add_argument("--superuser-url", default=os.environ.get("ORDERHUB_SUPERUSER_DATABASE_URL", ""),
                       help="a superuser's URL (default: postgres@ the host of DATABASE_URL, db postgres)")
        g = sub.add_parser("grant", help="as the owner: (re)apply the app role's rights")
        g.add_argument("--app", required=True, help="the app role's name")
        c = sub.add_parser("check", help="as any role: can the app role lift the guards?")
        c.add_argument("--app", default=None, help="default: the role of DATABASE_URL")

    def handle(self, *args, action, **opts):
        try:
            if action == "init-roles":
                return self._init(opts["superuser_url"])
            if connection.vendor != "postgresql":
                raise CommandError("roles exist on PostgreSQL only (the demo's SQLite file has none)")
            if action == "grant":
                dbroles.grant_app(app=opts["app"])
                self.stdout.write(f"rights of {opts['app']} applied")
                return
            app = opts["app"] or connection.settings_dict["USER"]
            problems = dbroles.app_role_problems(app)
            for p in problems:
                self.stdout.write(self.style.ERROR(p))
            if problems:
                raise CommandError(f"{app} could lift the audit guards")
            self.stdout.write(self.style.SUCCESS(f"{app} owns nothing and cannot lift the audit guards"))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

    def _init(self, superuser_url: str) -> None:
        app_url = os.environ.get("DATABASE_URL", "")
        owner_url = os.environ.get("ORDERHUB_OWNER_DATABASE_URL", "")
        if not app_url.startswith("postgres") or not owner_url:
            raise CommandError("set DATABASE_URL (the app role) and ORDERHUB_OWNER_DATABASE_URL (the owner "
                               "role), both postgres://user:password@host:port/db of the same database")
        app, owner = dbroles.RoleUrl.parse(app_url), dbroles.RoleUrl.parse(owner_url)
        superuser = (dbroles.RoleUrl.parse(superuser_url) if superuser_url else
                     dbroles.RoleUrl(user="postgres", password="", host=app.host, port=app.port,
                                     database="postgres"))
        dbroles.init_roles(superuser=superuser, owner=owner, app=app, log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS("next: orderhub migrate (as the owner; it grants the app "
                                             "its rights)"))
