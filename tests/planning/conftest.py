from decimal import Decimal

import pytest

from orderhub.planning.models import Routing
from orderhub.planning.services import RoutingIn, line_save


@pytest.fixture
def lines(company):
    """Three lines: L1 (8 h a day) and L2 (8 h) machine housings at 0.1 h a piece (L1
    preferred), L3 (4 h) at 0.2 h."""
    a = company["actors"]["planner"]
    housing = company["housing"].pk
    out = {}
    for code, name, hours, rate, pref in (("L1", "一号线", "8", "0.1", True), ("L2", "二号线", "8", "0.1", False),
                                          ("L3", "三号线", "4", "0.2", False)):
        out[code] = line_save(actor=a, code=code, name=name, hours_per_day=Decimal(hours),
                              routings=[RoutingIn(housing, 10, "机加工", Decimal(rate), pref)])
    assert Routing.objects.count() == 3
    return out
