"""Bearer tokens for systems, the session for the web UI; both become an Actor."""

from ninja.security import APIKeyCookie, HttpBearer

from orderhub.core.actors import API_CLIENT, Actor, RequestContext
from orderhub.core.tokens import token_authenticate


def _context(request) -> RequestContext:
    return getattr(request, "orderhub_context", None) or RequestContext()


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        api_token = token_authenticate(token)
        if api_token is None:
            return None
        request.actor = Actor.for_user(api_token.user, context=_context(request), kind=API_CLIENT,
                                       label=f"api:{api_token.name}", actor_id=str(api_token.pk))
        return api_token


class SessionAuth(APIKeyCookie):
    """Django's session cookie, with CSRF checked for unsafe methods."""

    param_name = "sessionid"

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        request.actor = Actor.for_user(user, context=_context(request))
        return user
