"""An administrator in a real browser (Debian's Chromium): a robot endpoint is created, its
secrets are never shown again, a new secret typed replaces the saved one while an empty input
keeps it; a loopback URL is refused under the field; private targets are switched on."""

import os

import pytest

# Playwright's sync API keeps an event loop in the test thread (see tests/e2e/conftest.py)
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

TOKEN = "tok-9d2f61a0"
SECRET = "SECa41c0de"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    from tests.e2e.conftest import CHROMIUM

    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]}


def test_endpoint_secrets_in_a_browser(company, live_server, browser):
    from playwright.sync_api import expect

    from orderhub.notify.models import Endpoint
    from orderhub.notify.policy import delivery_settings
    from orderhub.notify.services import clear_caches
    from tests.e2e.conftest import ARTIFACTS

    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("用户名").fill("admin")
        page.get_by_label("密码").fill("pw-admin")
        page.get_by_role("button", name="登录").click()
        page.goto(f"{live_server.url}/settings/notify/endpoints/new/?kind=dingtalk")
        page.locator("#id_code").fill("ding-prod")
        page.locator("#id_name").fill("生产群")
        page.locator("#id_config").fill('{"url": "http://127.0.0.1:9/robot/send?access_token=x"}')
        page.get_by_role("button", name="保存").click()
        expect(page.get_by_test_id("endpoint-form")).to_contain_text("内网目标")     # refused by name
        page.locator("#id_config").fill(
            f'{{"url": "https://93.184.216.34/robot/send?access_token={TOKEN}", "secret": "{SECRET}"}}')
        page.get_by_role("button", name="保存").click()
        page.wait_for_url("**/settings/notify/")
        page.goto(f"{live_server.url}/settings/notify/endpoints/ding-prod/")
        secrets = page.get_by_test_id("endpoint-secrets")
        expect(secrets).to_contain_text("已设置（保存后不再显示）")
        expect(secrets).to_contain_text("https://93.184.216.34/robot/send?…")
        html = page.content()
        assert TOKEN not in html and SECRET not in html
        expect(page.locator('input[name="secret:secret"]')).to_have_value("")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "notify-endpoint-secrets.png"), full_page=True)
        page.locator('input[name="secret:secret"]').fill("SEC-NEW")
        page.get_by_role("button", name="保存").click()
        page.wait_for_url("**/settings/notify/")
        cfg = Endpoint.objects.get(code="ding-prod").full_config()
        assert cfg["secret"] == "SEC-NEW" and TOKEN in cfg["url"]      # the URL kept, the secret replaced
        # private targets, on the settings page
        box = page.get_by_test_id("delivery-settings")
        box.get_by_role("checkbox").check()
        box.get_by_role("button", name="保存").click()
        expect(page.locator("body")).to_contain_text("投递设置已保存")
        clear_caches()
        assert delivery_settings().allow_private_targets is True
    finally:
        ctx.close()
