"""Keys that must never live in the database: Django's secret key, the audit MAC key, the key
that encrypts stored secrets.

Each comes from its environment variable. Outside production (the embedded demo, development,
tests) a missing key is made once, at random, in ``<ORDERHUB_DATA_DIR>/keys/<name>.key`` (mode
0600) and read from there afterwards, so a demo keeps its sessions, chains and secrets across
restarts with no set-up. In production (``ORDERHUB_ENV=production``) nothing is made: a missing
key reads as ``""`` and the start-up checks refuse to serve (``orderhub.core.checks``).

Pure module (no Django import): settings use it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

PRODUCTION = "production"


def is_production(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("ORDERHUB_ENV", "development").strip().lower() == PRODUCTION


def load_key(name: str, env_var: str, data_dir: Path, *, environ: dict[str, str] | None = None) -> str:
    """The key ``name``: ``$env_var`` if set; else, outside production, the content of
    ``data_dir/keys/<name>.key`` (made with 32 random bytes, URL-safe base64, if missing);
    in production without the variable, ``""``."""
    env = os.environ if environ is None else environ
    value = env.get(env_var, "").strip()
    if value:
        return value
    if is_production(env):
        return ""
    path = Path(data_dir) / "keys" / f"{name}.key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    # written whole to a private temporary file, then linked into place: a process starting at
    # the same moment sees either no file or the complete key, and the first link wins
    tmp = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(32) + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return path.read_text().strip()
