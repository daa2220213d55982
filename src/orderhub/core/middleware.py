import uuid

from .actors import RequestContext


class RequestContextMiddleware:
    """Gives every request an id (honouring X-Request-ID) and a RequestContext for services."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = (request.headers.get("X-Request-ID") or uuid.uuid4().hex)[:64]
        request.request_id = rid
        request.orderhub_context = RequestContext(
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.headers.get("User-Agent", "")[:400],
            request_id=rid,
        )
        response = self.get_response(request)
        response["X-Request-ID"] = rid
        return response
