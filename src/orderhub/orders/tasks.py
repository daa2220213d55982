"""Periodic job of the orders app (Celery beat in production, the embedded runner in the demo):
holds past their ``expires_at`` go back to stock, the order's owner is told and the stage's
guards are checked again (``services.expiry``). Safe to run late, twice or on several machines
(each order is locked while its holds are released)."""

from orderhub.celery import periodic

from .breakers.credit import recheck_tripped
from .breakers.trips import apply_pending, system_actor
from .locks import fold_open_amounts
from .safety import safety_notices_send
from .services.expiry import reservations_expire


@periodic(seconds=60, name="orders.expire_reservations")
def expire_reservations_job() -> None:
    reservations_expire()


@periodic(seconds=60, name="orders.safety_notices")
def safety_notices_job() -> None:
    """Tell the owners of orders flagged since the last run (``safety``)."""
    safety_notices_send()


@periodic(seconds=60, name="orders.breakers_apply")
def breakers_apply_job() -> None:
    """Apply trips and resets a crash left pending (normally applied right after their check),
    and reset credit trips whose customer has credit again since an order was cancelled or
    completed (``breakers.credit``)."""
    apply_pending()
    recheck_tripped(actor=system_actor())


@periodic(seconds=600, name="orders.fold_open_amounts")
def fold_open_amounts_job() -> int:
    """Keep the customers' open-amount rows few (``locks.fold_open_amounts``)."""
    return fold_open_amounts()
