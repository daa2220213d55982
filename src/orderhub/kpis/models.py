"""The KPI read layer keeps no tables of its own: every figure is read from the orders,
their stage stays, tickets and first touches (``selectors``). The permission to see them is
``orders.view_kpis`` (``core.permissions``: capability ``kpis.view``)."""
