"""OrderInput.normalized: the direct build equals the generic canonical round trip, so stored
fingerprints (duplicate detection) do not change."""

from dataclasses import asdict, replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderhub.core.canonical import canonical_json, to_plain
from orderhub.orders.inputs import LineInput, OrderInput, ShipTo

pytestmark = pytest.mark.smoke


# the ship-to choice (issue 15.4) is part of the content only when given, so the fingerprints
# of orders made before it existed stay the same
LATER = ("ship_to_address_id", "ship_to")


def _generic(d: OrderInput):
    data = asdict(d)
    data["tags"] = sorted(set(d.tags))
    for key in LATER:
        if data[key] is None:
            del data[key]
    return to_plain(data)


text = st.text(max_size=12)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10**9, max_value=10**9)
lines = st.builds(LineInput, sku=text, qty=decimals, unit=st.none() | text,
                  unit_price=st.none() | decimals, remarks=text)
inputs = st.builds(OrderInput, customer=text, lines=st.lists(lines, max_size=4),
                   required_date=st.dates(), channel=text, external_ref=st.none() | text,
                   promised_date=st.none() | st.dates(), urgency=text, remarks=text,
                   tags=st.lists(text, max_size=4), workflow=st.none() | text, owner=st.none() | text,
                   ship_to_address_id=st.none() | st.integers(1, 10**6),
                   ship_to=st.none() | st.builds(ShipTo, contact=text, phone=text, address=text))


@settings(max_examples=300, deadline=None)
@given(inputs)
def test_direct_normalized_equals_the_generic_round_trip(d):
    assert d.normalized() == _generic(d)
    assert canonical_json(d.normalized()) == canonical_json(_generic(d))


def test_unusual_values_take_the_generic_path():
    base = OrderInput(customer="C1", lines=[LineInput(sku="S", qty=Decimal("1.50"))],
                      required_date=date(2026, 12, 1), tags=["b", "a", "b"])
    odd = [replace(base, tags=("b", "a")), replace(base, lines=[LineInput(sku="S", qty=3)]),
           replace(base, lines=[LineInput(sku="S", qty=1.5)])]
    for d in [base, *odd]:
        assert d.normalized() == _generic(d)
    assert base.normalized()["lines"][0]["qty"] == "1.5"
    assert base.normalized()["tags"] == ["a", "b"]
    # without a ship-to choice the content has exactly the keys it had before the choice existed
    assert set(base.normalized()) == {"customer", "lines", "required_date", "channel", "external_ref",
                                      "promised_date", "urgency", "remarks", "tags", "workflow", "owner"}
