from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orderhub.orders"
    label = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from orderhub.catalog.services import register_credit_listener
        from orderhub.core.audit_chains import register_check, register_subject
        from orderhub.inventory.safety import register_change_listener, register_listener
        from orderhub.purchasing.links import register_demand, register_order_lookup

        from . import safety, selectors, tasks  # noqa: F401  (tasks registers the periodic jobs)
        from .breakers import credit, stock

        # orders keep their chain head on their row; the audit verifier and the checkpoint job
        # read it from there, and check the sealed snapshots
        register_subject("order", noun=_("order"), heads=selectors.order_audit_heads,
                         history_required=True)
        register_check("orders.snapshots", selectors.snapshot_audit_findings, subject_type="order")
        # purchase orders name the orders they serve by number (ERP files, forms)
        register_order_lookup(selectors.open_order_ids)
        # the replenishment rule reads what was ordered per SKU and day
        register_demand(selectors.daily_demand)
        # a stock write that crosses a safety stock flags (or clears) the orders needing it
        register_listener(safety.on_crossings)
        # circuit breakers: every stock write checks the waiting orders of its materials, every
        # change of a customer's credit figures checks their open orders
        register_change_listener(stock.on_stock_change)
        register_credit_listener(credit.on_customer_credit_changed)
