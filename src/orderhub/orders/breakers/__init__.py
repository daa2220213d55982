"""Circuit breakers (issue 15.6): conditions that pause orders by themselves and release them
when the condition clears — stock (``stock``), credit (``credit``), carrier (in
``shipping.breaker``, above orders). Configuration is data (``config``, ``configure``); trips
reach orders through ``trips`` (the order's one hold, a ticket, the history). See
``docs/changes.md`` ("Circuit breakers")."""
