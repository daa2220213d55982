import sys

from django.core.management.base import BaseCommand, CommandError

from orderhub.demo.loader import load_demo


class Command(BaseCommand):
    help = "Load the demo company (customers, products, BOMs, stock, ~300 orders) into an empty database."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=300)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, orders, seed, **opts):
        def progress(done, total):
            if done % 25 == 0 or done == total:
                sys.stdout.write(f"\r  demo orders {done}/{total}")
                sys.stdout.flush()
                if done == total:
                    sys.stdout.write("\n")

        try:
            result = load_demo(orders=orders, seed=seed, progress=progress)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"Demo loaded: {result['orders']} orders, {result['overdue']} overdue, "
            f"{result['blocked']} blocked by a guard."))
