"""The standard order as every channel delivers it (API, importers, forms)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from orderhub.core.canonical import to_plain


@dataclass(frozen=True)
class LineInput:
    sku: str
    qty: Decimal
    unit: str | None = None
    unit_price: Decimal | None = None
    remarks: str = ""


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

    def normalized(self) -> dict[str, Any]:
        """The content that decides whether a repeated submission is the same order."""
        data = asdict(self)
        data["tags"] = sorted(set(self.tags))
        return to_plain(data)


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
