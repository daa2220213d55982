import uuid

from django.core.exceptions import BadRequest
from django.utils.translation import gettext as _

from .actors import RequestContext
from .client import client_ip


class RequestContextMiddleware:
    """Gives every request an id (honouring X-Request-ID) and a RequestContext for services."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = (request.headers.get("X-Request-ID") or uuid.uuid4().hex)[:64]
        request.request_id = rid
        request.orderhub_context = RequestContext(
            ip=client_ip(request) or None,
            user_agent=request.headers.get("User-Agent", "")[:400],
            request_id=rid,
        )
        response = self.get_response(request)
        response["X-Request-ID"] = rid
        return response


class LanguageMiddleware:
    """Pages are Chinese unless the user chose otherwise (the language switch sets a cookie).

    Django's LocaleMiddleware would follow the browser's Accept-Language, so a shop-floor
    PC with an English system would get English pages; OrderHub's default is zh-hans. The
    JSON API still honours Accept-Language: integrators ask for the messages they can read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings
        from django.utils import translation

        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        supported = {code for code, _name in settings.LANGUAGES}
        if chosen in supported:
            lang = chosen
        elif request.path.startswith("/api/"):
            lang = translation.get_language_from_request(request)
        else:
            lang = settings.LANGUAGE_CODE
        translation.activate(lang)
        request.LANGUAGE_CODE = lang
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", lang)
        return response


class RefuseNulMiddleware:
    """A page request whose path or query string holds NUL is refused (400): PostgreSQL cannot
    take NUL in any query, so every view that looks up what the URL names would fail with a 500.
    The JSON API validates its parameters itself and answers a documented 422 naming the one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/") and (
                "\x00" in request.path or any("\x00" in k or any("\x00" in v for v in values)
                                             for k, values in request.GET.lists())):
            raise BadRequest(_("The request holds a NUL character; refused."))
        return self.get_response(request)
