"""Which settings of an endpoint are secrets, and how a configuration splits into what may be
shown (``Endpoint.config``) and what is encrypted at rest (``Endpoint.secrets``).

Per kind (``notify.channels`` lists every key):

* email: ``password``;
* dingtalk: ``url`` (the robot's access_token is in it) and ``secret``;
* wecom: ``url`` (the robot's key is in it);
* sms: ``url`` (gateways take their API key in the query), every ``headers`` value, and each of
  the ``params`` whose name looks like a credential (``key``, ``secret``, ``token``,
  ``password``, ``pwd``, ``sign``, ``auth``, ``credential``, ``ticket``, ``sid`` in the name);
* webhook: ``url``, ``secret`` and every ``headers`` value (custom headers carry credentials).

A secret's path is its key (``url``) or ``<map>.<name>`` (``headers.Authorization``).
Pure module (no models), so the data migration uses it too.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

SECRET_KEYS: dict[str, frozenset[str]] = {
    "email": frozenset({"password"}),
    "dingtalk": frozenset({"url", "secret"}),
    "wecom": frozenset({"url"}),
    "sms": frozenset({"url"}),
    "webhook": frozenset({"url", "secret"}),
}
# maps whose values are secret: every entry ("all") or those with a credential-like name ("named")
SECRET_MAPS: dict[str, dict[str, str]] = {
    "sms": {"headers": "all", "params": "named"},
    "webhook": {"headers": "all"},
}
CREDENTIAL_HINTS = ("key", "secret", "token", "password", "passwd", "pwd", "sign", "auth",
                    "credential", "ticket", "sid")
# what a required secret cannot be cleared of (it is replaced instead)
REQUIRED = {"dingtalk": {"url"}, "wecom": {"url"}, "sms": {"url"}, "webhook": {"url", "secret"}}


def _credential_name(name: str) -> bool:
    low = name.lower()
    return any(h in low for h in CREDENTIAL_HINTS)


def _secret_entry(kind: str, map_key: str, name: str) -> bool:
    rule = SECRET_MAPS.get(kind, {}).get(map_key)
    return rule == "all" or (rule == "named" and _credential_name(name))


def split(kind: str, cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(public, secret)``: ``secret`` holds the secret keys and map entries (same shape)."""
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    keys = SECRET_KEYS.get(kind, frozenset())
    for k, v in (cfg or {}).items():
        if k in keys:
            if v not in (None, ""):
                secret[k] = v
        elif k in SECRET_MAPS.get(kind, {}) and isinstance(v, dict):
            pub = {n: x for n, x in v.items() if not _secret_entry(kind, k, n)}
            sec = {n: x for n, x in v.items() if _secret_entry(kind, k, n) and x not in (None, "")}
            public[k] = pub
            if sec:
                secret[k] = sec
        else:
            public[k] = v
    return public, secret


def merge(public: dict[str, Any], secret: dict[str, Any]) -> dict[str, Any]:
    """The whole configuration again (what the senders use)."""
    out = dict(public or {})
    for k, v in (secret or {}).items():
        if isinstance(v, dict):
            out[k] = {**(out.get(k) or {}), **v}
        else:
            out[k] = v
    return out


def paths(secret: dict[str, Any]) -> list[str]:
    """The paths of the secrets set, e.g. ``["headers.Authorization", "secret", "url"]``."""
    out = []
    for k, v in (secret or {}).items():
        if isinstance(v, dict):
            out += [f"{k}.{n}" for n in v]
        else:
            out.append(k)
    return sorted(out)


def value_at(secret: dict[str, Any], path: str) -> Any:
    k, _sep, name = path.partition(".")
    v = (secret or {}).get(k)
    return v.get(name) if name and isinstance(v, dict) else (None if name else v)


def apply_update(kind: str, old_secret: dict[str, Any], submitted: dict[str, Any],
                 clear: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """The whole configuration to validate and save: ``submitted`` (as typed: the shown settings
    plus any secret typed anew), with every secret already set kept where ``submitted`` leaves
    it out or empty, unless its path is in ``clear``."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (submitted or {}).items()}
    for path in paths(old_secret):
        if path in clear:
            continue
        k, _sep, name = path.partition(".")
        old = value_at(old_secret, path)
        if name:
            current = out.get(k)
            if current is None:
                current = out[k] = {}
            if isinstance(current, dict) and current.get(name) in (None, ""):
                current[name] = old
        elif out.get(k) in (None, ""):
            out[k] = old
    return out


def url_hint(url: str) -> str:
    """What may be shown of a secret URL: scheme, host, port and path, the query and user
    information masked (``https://oapi.dingtalk.com/robot/send?…``)."""
    try:
        parts = urllib.parse.urlsplit(str(url))
    except ValueError:
        return "…"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if ":" in (parts.hostname or ""):
        host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    tail = "?…" if parts.query else ""
    return f"{parts.scheme}://{host}{parts.path}{tail}" if parts.scheme else "…"
