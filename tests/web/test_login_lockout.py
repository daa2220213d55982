"""Login lockout (django-axes): five wrong passwords for one username from one address lock that
pair for 15 minutes, even for the right password, with a Chinese message saying until when; an
administrator unlocks the user on the users page (audited); nobody else can."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from orderhub.core.errors import PermissionDenied
from orderhub.core.lockout import login_lockouts, user_unlock
from orderhub.core.models import AuditEvent

pytestmark = pytest.mark.django_db
HOME = "203.0.113.7"


@pytest.fixture(autouse=True)
def _axes_on(settings):
    settings.AXES_ENABLED = True


def signed_in(company, role: str) -> Client:
    c = Client()
    c.force_login(company["users"][role])  # Client.login() has no request, which axes refuses
    return c


def _post(password: str, *, ip: str = HOME, username: str = "planner", client: Client | None = None):
    return (client or Client(REMOTE_ADDR=ip)).post("/login/", {"username": username, "password": password})


def test_five_failures_lock_the_username_from_that_address_even_for_the_right_password(company):
    for _ in range(4):
        resp = _post("wrong")
        assert resp.status_code == 200 and "planner" in resp.content.decode()  # the form again
    assert _post("wrong").status_code == 429  # the fifth failure locks
    locked = _post("pw-planner")
    body = locked.content.decode()
    assert locked.status_code == 429 and 'data-testid="locked"' in body
    assert "登录失败次数过多" in body and "请管理员解锁" in body
    retry = int(locked["Retry-After"])
    assert 14 * 60 < retry <= 15 * 60
    [lk] = login_lockouts()
    assert (lk.username, lk.ip) == ("planner", HOME)
    assert f"请在 {timezone.localtime(lk.until):%H:%M} 之后重试" in body
    assert "_auth_user_id" not in Client(REMOTE_ADDR=HOME).session  # and nobody got in
    # the pair is locked, not the person: the same user from another address still logs in
    assert _post("pw-planner", ip="198.51.100.4").status_code == 302
    # the lockout ends 15 minutes after the last failure
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert _post("pw-planner").status_code == 302


def test_an_admin_unlocks_from_the_users_page_and_it_is_audited(company):
    for _ in range(5):
        _post("wrong")
    assert _post("pw-planner").status_code == 429
    admin = signed_in(company, "admin")
    page = admin.get("/settings/users/").content.decode()
    assert 'data-testid="lockouts"' in page and HOME in page and 'data-testid="unlock-planner"' in page
    assert signed_in(company, "sales").post("/settings/users/planner/unlock").status_code == 403
    done = admin.post("/settings/users/planner/unlock", follow=True)
    assert done.status_code == 200 and "已解锁" in done.content.decode()
    assert not login_lockouts()
    assert _post("pw-planner").status_code == 302
    ev = AuditEvent.objects.get(action="user.unlocked")
    assert ev.subject_id == company["users"]["planner"].pk and ev.actor_label == "admin"
    assert ev.data["addresses"] == [HOME] and ev.data["records_cleared"] == 1
    assert 'data-testid="lockouts"' not in admin.get("/settings/users/").content.decode()


def test_only_user_managers_may_unlock(company):
    with pytest.raises(PermissionDenied):
        user_unlock(username="planner", actor=company["actors"]["planner"])


def test_the_admin_login_is_locked_the_same_way(company):
    c = Client(REMOTE_ADDR=HOME)
    for _ in range(5):
        c.post("/admin/login/", {"username": "admin", "password": "wrong"})
    resp = c.post("/admin/login/", {"username": "admin", "password": "pw-admin"})
    assert resp.status_code == 429 and "登录失败次数过多" in resp.content.decode()
