"""E-mail attachments made at send time from a reference kept in the message.

A message's payload may carry ``attachment_refs``: ``[{"kind": "<maker>", "args": {...}}]``, a
few plain words naming a document (e.g. ``shipping.document`` with the shipment number and the
document kind). The e-mail sender asks the maker registered for ``kind`` for the file when it
sends, so the outbox row stays small (no PDF in the payload) and the document is the one the
stored data gives at that moment. Makers are registered by the apps above notify in their
``AppConfig.ready()`` (notify imports none of them).

A maker returns an :class:`Attachment`; it raises a ``DomainError`` when the document cannot be
made for good (the object gone, a broken template: the mail goes without it and the delivery's
answer says so) and anything else when it may work later (the delivery is retried).
Small, fixed files may still travel as bytes: ``attachments`` (``name``, ``content_type``,
``data`` in base64) in the payload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Attachment", "Maker", "UnknownAttachment", "make", "ref", "register"]


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    data: bytes


Maker = Callable[[dict[str, Any]], Attachment]
_MAKERS: dict[str, Maker] = {}


class UnknownAttachment(LookupError):
    """No maker is registered for the reference's kind."""


def register(kind: str, maker: Maker) -> None:
    """Let ``maker`` make the attachments whose reference has ``kind`` (once per kind)."""
    if _MAKERS.get(kind, maker) is not maker:
        raise ValueError(f"an attachment maker for {kind!r} is already registered")
    _MAKERS[kind] = maker


def ref(kind: str, **args: str) -> dict[str, Any]:
    """The reference to keep in a message's ``attachment_refs`` (plain strings only)."""
    if not all(isinstance(v, str) for v in args.values()):
        raise TypeError("attachment reference arguments are strings")
    return {"kind": kind, "args": dict(args)}


def make(reference: dict[str, Any]) -> Attachment:
    """The file ``reference`` names, made now by its kind's maker."""
    kind = str((reference or {}).get("kind") or "")
    maker = _MAKERS.get(kind)
    if maker is None:
        raise UnknownAttachment(kind)
    return maker(dict(reference.get("args") or {}))
