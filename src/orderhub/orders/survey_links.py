"""The signed link to an order's satisfaction survey (``/survey/<token>``), written into the
delivery notice (shipping) and read by the portal. A ``django.core.signing`` token of the
order id with its own salt: nothing stored, the signature is the credential, and a tracking
link's token (another salt) opens no survey. How long an answer may be given or changed is the
portal's rule (``CoeiConfig.survey_days`` after delivery), not the token's."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

SALT = "orderhub.portal.survey"


def survey_token(order_id: int) -> str:
    return signing.dumps({"o": int(order_id)}, salt=SALT)


def survey_url(order_id: int) -> str:
    """The survey's absolute address (``ORDERHUB_BASE_URL``), as the delivery notice gives it."""
    return f"{settings.ORDERHUB_BASE_URL.rstrip('/')}/survey/{survey_token(order_id)}"


def survey_order_id(token: str) -> int | None:
    """The order id a survey token names, None if its signature does not hold."""
    try:
        data = signing.loads(token, salt=SALT)
        return int(data["o"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
