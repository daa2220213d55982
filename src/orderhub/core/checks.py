"""Start-up checks: production refuses to run on a bad configuration.

With ``ORDERHUB_ENV=production`` the keys must come from the environment (``core.keys`` makes
none there): an empty or short ``ORDERHUB_SECRET_KEY``, ``ORDERHUB_AUDIT_KEY`` or
``ORDERHUB_ENCRYPTION_KEY``, or ``ORDERHUB_DEBUG=1``, is an error naming the variable. Django
runs these checks before ``migrate`` and the other management commands; ``orderhub serve``
runs them (with the deployment checks) and refuses to start on any error.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

# what `python -c "import secrets; print(secrets.token_urlsafe(50))"` gives is 67 characters
MIN_LENGTH = {"SECRET_KEY": 50, "ORDERHUB_AUDIT_KEY": 32, "ORDERHUB_ENCRYPTION_KEY": 32}
ENV_NAME = {"SECRET_KEY": "ORDERHUB_SECRET_KEY", "ORDERHUB_AUDIT_KEY": "ORDERHUB_AUDIT_KEY",
            "ORDERHUB_ENCRYPTION_KEY": "ORDERHUB_ENCRYPTION_KEY"}
HINT = "Generate one with: python -c \"import secrets; print(secrets.token_urlsafe(50))\""


@register(Tags.security)
def production_configuration(app_configs: object = None, **kwargs: object) -> list[Error]:
    if not getattr(settings, "ORDERHUB_PRODUCTION", False):
        return []
    errors = []
    for setting, minimum in MIN_LENGTH.items():
        try:
            value = str(getattr(settings, setting, "") or "")
        except ImproperlyConfigured:  # Django refuses to hand out an empty SECRET_KEY
            value = ""
        var = ENV_NAME[setting]
        if not value:
            errors.append(Error(f"{var} is not set: production (ORDERHUB_ENV=production) needs it in the "
                                "environment.", hint=HINT, id="orderhub.E001"))
        elif len(value) < minimum or len(set(value)) < 5 or value.startswith("django-insecure"):
            errors.append(Error(f"{var} is too short or too simple: at least {minimum} random characters.",
                                hint=HINT, id="orderhub.E002"))
    if settings.DEBUG:
        errors.append(Error("ORDERHUB_DEBUG is on: never in production (it shows code, settings and data "
                            "on error pages).", hint="Unset ORDERHUB_DEBUG.", id="orderhub.E003"))
    return errors
