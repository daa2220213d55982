"""Bearer tokens for systems, the session for the web UI; both become an Actor."""

from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from orderhub.core.actors import Actor, RequestContext
from orderhub.core.errors import PermissionDenied
from orderhub.core.store import token_actor


def _context(request) -> RequestContext:
    return getattr(request, "orderhub_context", None) or RequestContext()


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        found = token_actor(token, context=_context(request))
        if found is None:
            return None
        request.actor = found[1]
        return found[0]


class SessionAuth(APIKeyCookie):
    """Django's session cookie, with CSRF checked for unsafe methods.

    The CSRF check only applies once a session has authenticated someone: a request with no
    credentials at all is answered 401 (not a CSRF 403), and a logged-in browser that sends an
    unsafe method without the CSRF token gets 403 ``csrf_failed``.
    """

    param_name = "sessionid"

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise PermissionDenied("csrf_failed",
                                   _("CSRF check failed: send the X-CSRFToken header with the session."))
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        request.actor = Actor.for_user(user, context=_context(request))
        return user
