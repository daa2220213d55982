"""Channel senders and their settings.

Each endpoint kind has a settings schema (validated on save, faults named by key, e.g.
``config.url``) and a sender. Senders raise :class:`DeliveryError` on any failure; the
deliverer retries with backoff. HTTP goes through urllib with the endpoint's timeout, connecting
only to addresses ``netguard`` checked (no redirects followed, no proxy from the environment);
SMTP likewise. Senders read ``Endpoint.full_config()`` (the secret settings decrypted).

Settings per kind (``Endpoint.config`` + the encrypted ``Endpoint.secrets``; which are secret:
``notify.secretconfig``):

* email: ``host``, ``port``, ``username``, ``password``, ``use_tls``, ``use_ssl``, ``from_email``
  (no host: Django's EMAIL_* settings). A message's ``payload["attachments"]`` (``name``,
  ``content_type``, ``data`` in base64) are attached to the e-mail, and so are the documents its
  ``payload["attachment_refs"]`` name, made at send time (``notify.attachments``).
* dingtalk: ``url`` (robot webhook with access_token), ``secret`` (SEC…, optional: signs the
  request), ``msgtype`` markdown | actionCard, ``button_title`` (actionCard), ``at_all``.
* wecom: ``url`` (group robot webhook with key); markdown.
* sms: ``url``, ``method`` POST | GET, ``format`` json | form, ``params`` {name: template}
  (templates see ``mobile``, ``text``, ``subject``, ``dedupe_key``), ``headers``, ``ok_field``
  and ``ok_value`` (optional: the provider's JSON answer must carry that value).
* webhook: ``url``, ``secret`` (HMAC-SHA256 over ``"{timestamp}.{body}"``, sent as
  ``X-OrderHub-Signature: sha256=<hex>`` with ``X-OrderHub-Timestamp``: ``core.signing``),
  ``headers``. Every request carries ``Idempotency-Key`` (the message's key, stable across
  retries and restarts, also in the signed body as ``idempotency_key``) and
  ``X-OrderHub-Delivery-Attempt`` (1, 2, …): see docs/webhooks.md.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import http.client
import json
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend
from django.template import Context, Engine, TemplateSyntaxError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from orderhub.core import signing
from orderhub.core.crypto import SecretUnreadable
from orderhub.core.errors import DomainError, Problem, ValidationFailed

from . import attachments, netguard
from .models import DeliveryChannel, Endpoint, Message
from .policy import allow_private_targets
from .secretconfig import SECRET_KEYS, url_hint


class DeliveryError(Exception):
    pass


def _invalid(message: str, key: str) -> ValidationFailed:
    return ValidationFailed("invalid", message, problems=[Problem("invalid", message, f"config.{key}")])


def _url(cfg: dict, key: str = "url", *, required: bool = True) -> str:
    url = str(cfg.get(key) or "").strip()
    if not url:
        if required:
            raise _invalid(_("config.%(key)s: a URL is required.") % {"key": key}, key)
        return ""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise _invalid(_("config.%(key)s: '%(url)s' is not an http(s) URL.") % {"key": key, "url": url}, key)
    return url


def _str_map(cfg: dict, key: str) -> dict[str, str]:
    value = cfg.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _invalid(_("config.%(key)s: must map names to texts.") % {"key": key}, key)
    return dict(value)


_KNOWN = {
    DeliveryChannel.EMAIL: {"host", "port", "username", "password", "use_tls", "use_ssl", "from_email"},
    DeliveryChannel.DINGTALK: {"url", "secret", "msgtype", "button_title", "at_all"},
    DeliveryChannel.WECOM: {"url"},
    DeliveryChannel.SMS: {"url", "method", "format", "params", "headers", "ok_field", "ok_value"},
    DeliveryChannel.WEBHOOK: {"url", "secret", "headers"},
}

_engine = Engine(autoescape=False)


def validate_config(kind: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """The endpoint settings, normalised; a fault raises ValidationFailed naming the key."""
    if not isinstance(cfg, dict):
        raise _invalid(_("The settings must be a mapping."), "")
    unknown = sorted(set(cfg) - _KNOWN.get(kind, set()))
    if unknown:
        raise _invalid(_("config.%(key)s: unknown setting for this channel (known: %(known)s).")
                       % {"key": unknown[0], "known": ", ".join(sorted(_KNOWN.get(kind, ())))}, unknown[0])
    for key in sorted(SECRET_KEYS.get(kind, ())):
        if cfg.get(key) is not None and not isinstance(cfg[key], str):
            raise _invalid(_("config.%(key)s: must be text.") % {"key": key}, key)
    out = dict(cfg)
    if kind == DeliveryChannel.EMAIL:
        if cfg.get("host"):
            try:
                port = int(cfg.get("port") or 25)
            except (TypeError, ValueError):
                raise _invalid(_("config.port: must be a number."), "port") from None
            if not 0 < port < 65536:
                raise _invalid(_("config.port: must be between 1 and 65535."), "port")
            out["port"] = port
        if cfg.get("use_tls") and cfg.get("use_ssl"):
            raise _invalid(_("config.use_ssl: use either TLS or SSL, not both."), "use_ssl")
    elif kind == DeliveryChannel.DINGTALK:
        out["url"] = _url(cfg)
        msgtype = cfg.get("msgtype") or "markdown"
        if msgtype not in ("markdown", "actionCard"):
            raise _invalid(_("config.msgtype: must be markdown or actionCard."), "msgtype")
        out["msgtype"] = msgtype
    elif kind == DeliveryChannel.WECOM:
        out["url"] = _url(cfg)
    elif kind == DeliveryChannel.SMS:
        out["url"] = _url(cfg)
        if (cfg.get("method") or "POST") not in ("POST", "GET"):
            raise _invalid(_("config.method: must be POST or GET."), "method")
        if (cfg.get("format") or "json") not in ("json", "form"):
            raise _invalid(_("config.format: must be json or form."), "format")
        params = _str_map(cfg, "params") or {"mobile": "{{ mobile }}", "text": "{{ text }}"}
        for name, tpl in params.items():
            try:
                _engine.from_string(tpl)
            except TemplateSyntaxError as e:
                raise _invalid(_("config.params.%(name)s: template syntax error: %(error)s")
                               % {"name": name, "error": e}, f"params.{name}") from e
        out["params"] = params
        out["headers"] = _str_map(cfg, "headers")
    elif kind == DeliveryChannel.WEBHOOK:
        out["url"] = _url(cfg)
        if not cfg.get("secret"):
            raise _invalid(_("config.secret: a webhook needs a secret to sign its requests."), "secret")
        out["headers"] = _str_map(cfg, "headers")
    return out


def _target(kind: str, cfg: dict[str, Any]) -> tuple[str, str, int] | None:
    """(setting key, host, port) of what the server calls for this endpoint, if anything."""
    if kind == DeliveryChannel.EMAIL:
        host = str(cfg.get("host") or "").strip()
        return ("host", host, int(cfg.get("port") or 25)) if host else None
    url = str(cfg.get("url") or "")
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _invalid(_("config.url: the port is not valid."), "url") from None
    return "url", parts.hostname or "", port


REASONS = {
    "loopback": _lazy("a loopback address"), "private": _lazy("a private network address"),
    "link-local": _lazy("a link-local address"), "multicast": _lazy("a multicast address"),
    "unspecified": _lazy("an unspecified address"), "reserved": _lazy("a reserved address"),
    "invalid": _lazy("not an address"),
}


def blocked_message(e: netguard.BlockedTarget) -> str:
    return _("%(host)s resolves to %(address)s, %(reason)s: OrderHub does not call private "
             "targets unless an administrator allows them in the notification settings.") % {
        "host": e.host, "address": e.address, "reason": REASONS.get(e.reason, e.reason)}


def check_targets(kind: str, cfg: dict[str, Any], *, allow_private: bool) -> None:
    """Refuse on save an endpoint whose URL or SMTP host resolves to a loopback, private,
    link-local, multicast or unspecified address (unless private targets are allowed),
    naming the setting. A host that does not resolve now is left to the check at delivery."""
    target = _target(kind, cfg)
    if target is None or allow_private:
        return
    key, host, port = target
    try:
        netguard.check_target(host, port, allow_private=False)
    except netguard.BlockedTarget as e:
        raise _invalid(f"config.{key}: " + blocked_message(e), key) from None
    except netguard.Unresolvable:
        # not known now (no DNS on this machine, a name not yet published): the check at
        # delivery, which connects only to addresses it checked, decides then
        return


# --------------------------------------------------------------------------- HTTP

class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, allow_private: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(netguard.create_connection, allow_private=allow_private)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    """TLS is still checked against the host name (HTTPSConnection wraps with server_hostname)."""

    def __init__(self, *args, allow_private: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(netguard.create_connection, allow_private=allow_private)


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allow_private: bool):
        super().__init__()
        self.allow_private = allow_private

    def http_open(self, req):
        return self.do_open(functools.partial(_GuardedHTTPConnection, allow_private=self.allow_private), req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allow_private: bool):
        super().__init__()
        self.allow_private = allow_private

    def https_open(self, req):
        return self.do_open(functools.partial(_GuardedHTTPSConnection, allow_private=self.allow_private), req,
                            context=self._context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as what it is (a 3xx failure): a POST is never re-sent elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _opener(allow_private: bool) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _GuardedHTTPHandler(allow_private),
                                       _GuardedHTTPSHandler(allow_private), _NoRedirect())


def _http(url: str, *, body: bytes | None, headers: dict[str, str], timeout: float,
          method: str = "POST") -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with _opener(allow_private_targets()).open(req, timeout=timeout) as resp:
            return resp.status, resp.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        text = e.read(2000).decode("utf-8", "replace") if e.fp else ""
        if 300 <= e.code < 400:
            where = netguard_hint(e.headers.get("Location", "") if e.headers else "")
            raise DeliveryError(_("HTTP %(code)s: redirects are not followed (to %(where)s).")
                                % {"code": e.code, "where": where}) from e
        raise DeliveryError(f"HTTP {e.code}: {text[:300]}") from e
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, netguard.BlockedTarget):
            raise DeliveryError(blocked_message(reason)) from e
        raise DeliveryError(f"{type(e).__name__}: {reason}") from e
    except netguard.BlockedTarget as e:
        raise DeliveryError(blocked_message(e)) from e
    except (TimeoutError, OSError, http.client.HTTPException) as e:
        raise DeliveryError(f"{type(e).__name__}: {e}") from e


def netguard_hint(url: str) -> str:
    return url_hint(url) if url else "?"


def _post_json(url: str, data: dict, timeout: float, headers: dict[str, str] | None = None) -> str:
    body = json.dumps(data, ensure_ascii=False).encode()
    _status, text = _http(url, body=body, timeout=timeout,
                          headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})})
    return text


def _robot_ok(text: str) -> str:
    """DingTalk and WeCom answer 200 with {"errcode": 0} on success, another errcode on failure."""
    try:
        data = json.loads(text)
    except ValueError:
        raise DeliveryError(f"unexpected answer: {text[:200]}") from None
    if not isinstance(data, dict) or data.get("errcode", 0) != 0:
        raise DeliveryError(f"robot refused: {text[:300]}")
    return text[:500]


# --------------------------------------------------------------------------- senders

def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: HMAC-SHA256(secret, f"{timestamp}\\n{secret}"), base64, url-encoded."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())


def _ascii(value: str) -> str:
    """A header value http.client can send (latin-1): anything else percent-encoded."""
    return value if value.isascii() else urllib.parse.quote(value, safe="".join(map(chr, range(32, 127))))


def _config(ep: Endpoint) -> dict[str, Any]:
    """The endpoint's settings with its secrets; a secret the keys cannot decrypt is a
    delivery failure naming the key (never a request without its token or signature)."""
    try:
        return ep.full_config()
    except SecretUnreadable as e:
        raise DeliveryError(e.message) from e


def order_url(m: Message) -> str:
    """The order's page, which is addressed by the order number (not its database id)."""
    base = getattr(settings, "ORDERHUB_BASE_URL", "").rstrip("/")
    number = m.order.number if m.order_id and m.order is not None else ""
    if not number:
        return base + "/"
    return f"{base}/orders/{urllib.parse.quote(number)}/"


def send_dingtalk(m: Message, ep: Endpoint) -> str:
    cfg = _config(ep)
    url = cfg["url"]
    if cfg.get("secret"):
        ts = int(time.time() * 1000)
        url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={dingtalk_sign(cfg['secret'], ts)}"
    title = m.subject or m.event
    at = m.payload.get("at") or {}
    mobiles, ids = at.get("mobiles") or [], at.get("dingtalk_ids") or []
    if cfg.get("msgtype") == "actionCard":
        data = {"msgtype": "actionCard", "actionCard": {
            "title": title, "text": m.body, "btnOrientation": "0",
            "singleTitle": cfg.get("button_title") or _("View order"), "singleURL": order_url(m)}}
    else:
        # a markdown @-mention only notifies when the @mobile / @id also appears in the text
        tags = " ".join([f"@{x}" for x in mobiles] + [f"@{x}" for x in ids])
        data = {"msgtype": "markdown",
                "markdown": {"title": title, "text": f"{m.body}\n\n{tags}" if tags else m.body},
                "at": {"atMobiles": mobiles, "atUserIds": ids, "isAtAll": bool(cfg.get("at_all"))}}
    return _robot_ok(_post_json(url, data, ep.timeout_seconds,
                                {"X-OrderHub-Dedupe-Key": _ascii(m.dedupe_key)}))


def send_wecom(m: Message, ep: Endpoint) -> str:
    ids = (m.payload.get("at") or {}).get("wecom_ids") or []
    tags = " ".join(f"<@{x}>" for x in ids)     # WeCom markdown mentions members as <@userid>
    data = {"msgtype": "markdown", "markdown": {"content": f"{m.body}\n{tags}" if tags else m.body}}
    return _robot_ok(_post_json(_config(ep)["url"], data, ep.timeout_seconds,
                                {"X-OrderHub-Dedupe-Key": _ascii(m.dedupe_key)}))


def webhook_body(m: Message) -> bytes:
    """The signed body: everything a receiver may rely on, the idempotency key included."""
    data = {"event": m.event, "dedupe_key": m.dedupe_key, "idempotency_key": m.idempotency_key,
            "severity": m.severity, "subject": m.subject, "body": m.body, "order_id": m.order_id,
            "created_at": m.created_at.isoformat(), "context": m.payload.get("context", {})}
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()


def send_webhook(m: Message, ep: Endpoint) -> str:
    cfg = _config(ep)
    body = webhook_body(m)
    ts = str(int(time.time()))
    headers = {**cfg.get("headers", {}), "Content-Type": "application/json; charset=utf-8",
               "X-OrderHub-Event": m.event, "X-OrderHub-Dedupe-Key": _ascii(m.dedupe_key),
               "Idempotency-Key": m.idempotency_key, "X-OrderHub-Delivery-Attempt": str(m.attempts),
               signing.TIMESTAMP_HEADER: ts, signing.SIGNATURE_HEADER: signing.sign(cfg["secret"], ts, body)}
    status, text = _http(cfg["url"], body=body, headers=headers, timeout=ep.timeout_seconds)
    return f"{status} {text[:400]}"


class SmsProvider:
    """Sends one text to one mobile number; raise DeliveryError on failure."""

    def send(self, *, mobile: str, text: str, message: Message) -> str:  # pragma: no cover
        raise NotImplementedError


class GenericHttpSmsProvider(SmsProvider):
    """Any provider with an HTTP API: parameters rendered from templates, JSON or form."""

    def __init__(self, ep: Endpoint):
        self.ep = ep
        self.cfg = _config(ep)

    def send(self, *, mobile: str, text: str, message: Message) -> str:
        ctx = Context({"mobile": mobile, "text": text, "subject": message.subject,
                       "dedupe_key": message.dedupe_key}, autoescape=False)
        params = {k: _engine.from_string(v).render(ctx) for k, v in self.cfg["params"].items()}
        headers = dict(self.cfg.get("headers") or {})
        url = self.cfg["url"]
        if self.cfg.get("method", "POST") == "GET":
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
            body = None
        elif self.cfg.get("format", "json") == "form":
            body = urllib.parse.urlencode(params).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(params, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json; charset=utf-8"
        status, answer = _http(url, body=body, headers=headers, timeout=self.ep.timeout_seconds,
                               method=self.cfg.get("method", "POST"))
        if self.cfg.get("ok_field"):
            try:
                got = json.loads(answer).get(self.cfg["ok_field"])
            except (ValueError, AttributeError):
                raise DeliveryError(f"SMS provider answered: {answer[:200]}") from None
            if str(got) != str(self.cfg.get("ok_value", "")):
                raise DeliveryError(f"SMS provider refused: {answer[:300]}")
        return f"{status} {answer[:400]}"


def sms_provider(ep: Endpoint) -> SmsProvider:
    return GenericHttpSmsProvider(ep)


def send_sms(m: Message, ep: Endpoint) -> str:
    text = f"{m.subject}\n{m.body}" if m.subject and m.subject not in m.body else m.body
    return sms_provider(ep).send(mobile=m.address, text=text, message=m)


def send_email(m: Message, ep: Endpoint | None) -> str:
    from django.core.mail import EmailMessage, get_connection

    cfg = _config(ep) if ep is not None else {}
    if cfg.get("host"):
        conn = get_connection("orderhub.notify.channels.GuardedEmailBackend", host=cfg["host"],
                              port=int(cfg.get("port") or 25), username=cfg.get("username") or "",
                              password=cfg.get("password") or "", use_tls=bool(cfg.get("use_tls")),
                              use_ssl=bool(cfg.get("use_ssl")), timeout=ep.timeout_seconds,
                              fail_silently=False)
    else:
        conn = get_connection(fail_silently=False)
    from_email = cfg.get("from_email") or getattr(settings, "ORDERHUB_NOTIFY_FROM_EMAIL", "orderhub@localhost")
    mail = EmailMessage(subject=m.subject or m.event, body=m.body, from_email=from_email, to=[m.address],
                        connection=conn, headers={"X-OrderHub-Dedupe-Key": m.dedupe_key,
                                                  "X-OrderHub-Event": m.event})
    for a in (m.payload or {}).get("attachments") or []:   # e.g. the daily report's PDF
        mail.attach(str(a["name"]), base64.b64decode(a["data"]), str(a["content_type"]))
    missing = _attach_refs(mail, (m.payload or {}).get("attachment_refs") or [])
    try:
        mail.send()
    except netguard.BlockedTarget as e:
        raise DeliveryError(blocked_message(e)) from e
    except Exception as e:
        raise DeliveryError(f"SMTP: {type(e).__name__}: {e}") from e
    return "sent" + (_(" (not attached: %(why)s)") % {"why": "; ".join(missing)} if missing else "")


def _attach_refs(mail: Any, refs: list[dict[str, Any]]) -> list[str]:
    """Attach the documents ``refs`` name, made now (``notify.attachments``); the reasons of
    those that cannot be made for good (the mail goes without them). A fault that may pass
    (anything but a DomainError) is a DeliveryError: the message is retried."""
    missing = []
    for reference in refs:
        try:
            a = attachments.make(reference)
        except (DomainError, attachments.UnknownAttachment) as e:
            missing.append(str(getattr(e, "message", "")) or _("unknown attachment kind %(k)s") % {"k": str(e)})
            continue
        except Exception as e:
            raise DeliveryError(f"attachment: {type(e).__name__}: {e}") from e
        mail.attach(a.name, a.data, a.content_type)
    return missing


class _GuardedSMTP(smtplib.SMTP):
    allow_private = False

    def _get_socket(self, host, port, timeout):
        return netguard.create_connection((host, port), timeout, self.source_address,
                                          allow_private=self.allow_private)


class _GuardedSMTPSSL(smtplib.SMTP_SSL):
    allow_private = False

    def _get_socket(self, host, port, timeout):
        sock = netguard.create_connection((host, port), timeout, self.source_address,
                                          allow_private=self.allow_private)
        return self.context.wrap_socket(sock, server_hostname=self._host)


class GuardedEmailBackend(EmailBackend):
    """Django's SMTP backend connecting only to addresses netguard checked (the endpoint's host)."""

    @property
    def connection_class(self):
        cls = _GuardedSMTPSSL if self.use_ssl else _GuardedSMTP
        return type(cls.__name__, (cls,), {"allow_private": allow_private_targets()})


def send(m: Message, ep: Endpoint | None) -> str:
    """Deliver one message; returns a short description of the answer."""
    if m.channel == DeliveryChannel.INAPP:
        return "inbox"
    if m.channel == DeliveryChannel.EMAIL:
        return send_email(m, ep)
    if ep is None:
        raise DeliveryError(_("The endpoint of this message no longer exists."))
    if not ep.is_active:
        raise DeliveryError(_("The endpoint %(code)s is switched off.") % {"code": ep.code})
    senders = {DeliveryChannel.DINGTALK: send_dingtalk, DeliveryChannel.WECOM: send_wecom,
               DeliveryChannel.WEBHOOK: send_webhook, DeliveryChannel.SMS: send_sms}
    return senders[m.channel](m, ep)
