"""The standard order as every channel delivers it (API, importers, forms)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from orderhub.core.canonical import plain_scalar, to_plain


@dataclass(frozen=True)
class LineInput:
    sku: str
    qty: Decimal
    unit: str | None = None
    unit_price: Decimal | None = None
    remarks: str = ""


@dataclass(frozen=True)
class ShipTo:
    """A ship-to address typed for one order (not from the customer's address book)."""

    contact: str = ""
    phone: str = ""
    address: str = ""


@dataclass(frozen=True)
class OrderInput:
    customer: str
    lines: list[LineInput]
    required_date: date
    channel: str = "api"
    external_ref: str | None = None
    promised_date: date | None = None
    urgency: str = "green"
    remarks: str = ""
    tags: list[str] = field(default_factory=list)
    workflow: str | None = None
    owner: str | None = None
    # where the goods go: one of the customer's addresses, or one typed for this order; neither:
    # the customer's default address. Part of the content only when given (so the fingerprints
    # of orders made before they existed stay the same).
    ship_to_address_id: int | None = None
    ship_to: ShipTo | None = None

    def normalized(self) -> dict[str, Any]:
        """The content that decides whether a repeated submission is the same order.

        The same value as ``to_plain(asdict(self))`` with the tags sorted and unique (stored
        fingerprints depend on it: tests compare both), built directly: an import normalizes
        every row."""
        if not _plain_fields(self):
            data = asdict(self)
            data["tags"] = sorted(set(self.tags))
            for key in ("ship_to_address_id", "ship_to"):
                if data[key] is None:
                    del data[key]
            return to_plain(data)
        p = _plain
        out = {
            "customer": self.customer,
            "lines": [{"sku": ln.sku, "qty": p(ln.qty), "unit": ln.unit, "unit_price": p(ln.unit_price),
                       "remarks": ln.remarks} for ln in self.lines],
            "required_date": p(self.required_date), "channel": self.channel,
            "external_ref": self.external_ref, "promised_date": p(self.promised_date),
            "urgency": self.urgency, "remarks": self.remarks, "tags": sorted(set(self.tags)),
            "workflow": self.workflow, "owner": self.owner,
        }
        if self.ship_to_address_id is not None:
            out["ship_to_address_id"] = self.ship_to_address_id
        if self.ship_to is not None:
            out["ship_to"] = asdict(self.ship_to)
        return out


_SCALARS = (str, type(None))


def _plain(value: Any) -> Any:
    return plain_scalar(value) if isinstance(value, Decimal | date) else value


def _plain_fields(data: OrderInput) -> bool:
    """Whether every value is of a type the direct path spells exactly as canonical JSON does
    (anything unusual, e.g. a float quantity or a tuple of tags, takes the generic path)."""
    return (all(isinstance(v, _SCALARS) for v in (data.customer, data.channel, data.external_ref,
                                                   data.urgency, data.remarks, data.workflow, data.owner))
            and isinstance(data.ship_to_address_id, int | None) and isinstance(data.ship_to, ShipTo | None)
            and isinstance(data.required_date, date) and isinstance(data.promised_date, date | None)
            and type(data.lines) is list and type(data.tags) is list
            and all(isinstance(t, str) for t in data.tags)
            and all(type(ln) is LineInput and isinstance(ln.sku, str) and isinstance(ln.qty, Decimal)
                    and isinstance(ln.unit, _SCALARS) and isinstance(ln.unit_price, Decimal | None)
                    and isinstance(ln.remarks, str) for ln in data.lines))


def differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """Field-by-field differences between two normalized inputs (for a 409 response)."""
    out: list[dict[str, Any]] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        path = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(differences(a, b, path + "."))
        elif isinstance(a, list) and isinstance(b, list) and key == "lines":
            for i in range(max(len(a), len(b))):
                la = a[i] if i < len(a) else None
                lb = b[i] if i < len(b) else None
                if isinstance(la, dict) and isinstance(lb, dict):
                    out.extend(differences(la, lb, f"{path}[{i}]."))
                elif la != lb:
                    out.append({"field": f"{path}[{i}]", "existing": la, "incoming": lb})
        elif a != b:
            out.append({"field": path, "existing": a, "incoming": b})
    return out
