"""Events of the floor app's own records (a shop-floor ticket's opening and resolution are the
order events ``ticket.opened`` / ``ticket.resolved`` of ``orderhub.orders.events``, their data
carrying the problem type, severity, photos, cause and fix).

``problem_types.saved`` (PROBLEM_TYPES_SAVED)
    The list of problem types changed (``floor.services.problem_types_save``), subject
    ``problem_types``. changes: ``types`` before and after.
"""

PROBLEM_TYPES_SAVED = "problem_types.saved"
ALL = (PROBLEM_TYPES_SAVED,)
