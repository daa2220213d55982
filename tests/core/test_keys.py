"""Keys outside the database: from the environment, made once outside production, never made
in production."""

import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from orderhub.core.keys import is_production, load_key

pytestmark = pytest.mark.smoke


def test_environment_wins(tmp_path):
    assert load_key("audit", "K", tmp_path, environ={"K": " from-env "}) == "from-env"
    assert not (tmp_path / "keys").exists()


def test_made_once_private_and_stable(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        made = set(pool.map(lambda _: load_key("audit", "K", tmp_path, environ={}), range(16)))
    assert len(made) == 1
    key = made.pop()
    assert len(key) >= 43
    path = tmp_path / "keys" / "audit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_key("audit", "K", tmp_path, environ={}) == key
    assert load_key("other", "K", tmp_path, environ={}) != key


def test_production_never_makes_a_key(tmp_path):
    env = {"ORDERHUB_ENV": "Production"}
    assert is_production(env)
    assert load_key("secret", "K", tmp_path, environ=env) == ""
    assert not (tmp_path / "keys").exists()
    assert load_key("secret", "K", tmp_path, environ={**env, "K": "set"}) == "set"
