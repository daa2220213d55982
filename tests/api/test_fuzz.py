"""Schemathesis over the whole OpenAPI, against the real app on PostgreSQL, in every CI run.

Every operation gets a bounded, derandomized number of generated requests (valid and invalid)
as an administrator and as a user with no role. A request fails the test when it is answered
with a 5xx, with a status the OpenAPI does not document for the operation, or with a body that
does not match the documented schema. Some path parameters are swapped for ids that exist, so
the requests reach real orders, messages, drafts and links, not only the 404s.

A longer pass (thousands of requests, against ``orderhub serve``) is in docs/security.md
("Hostile input")."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from orderhub.api.api import api
from orderhub.core.tokens import token_create
from tests.intake.conftest import _fresh_intake_caches, intake_actor, master  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

#: examples per operation and identity (the coverage phase adds its own boundary cases): with two
#: identities and 32 operations about 3,500 requests, a minute on two cores
EXAMPLES = 30
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]

schema = schemathesis.openapi.from_dict(json.loads(json.dumps(api.get_openapi_schema())))
schema.app = WSGIHandler()  # the real app, in this process, on the test database


@pytest.fixture
def world(master, intake_actor):  # noqa: F811
    """A company with orders in several states, an inbox message with a draft, an import job
    and a quick-order link; tokens of an administrator and of a user with no role."""
    from django.contrib.auth import get_user_model

    from orderhub.intake.models import Draft, ImportJob, InboundMessage
    from orderhub.intake.services import inbound_process, inbound_receive, quick_link_issue
    from orderhub.orders.services import order_cancel, order_transition
    from tests.conftest import order_input
    from tests.intake.conftest import sample
    from tests.web.test_pages import make_order

    company = master
    orders = [make_order(company) for _ in range(3)]
    order_transition(order=orders[1].number, to="scheduled", actor=company["actors"]["service"])
    order_cancel(order=orders[2].number, actor=company["actors"]["manager"], reason="客户取消")
    from orderhub.orders.services import order_create

    order_create(data=order_input(external_ref="PO-1"), actor=company["actors"]["sales"])
    msg = inbound_process(message=inbound_receive(
        channel="miniprogram", kind="webhook", payload=sample("miniprogram", "04-bad-qty-and-date.json"),
        actor=intake_actor, content_type="application/json"), actor=intake_actor)
    doc = InboundMessage.objects.create(channel="email", kind="attachment", payload=b"%PDF-", size=5,
                                        content_type="application/pdf", sha256="0" * 64, received_at=msg.received_at)
    draft = Draft.objects.create(message=doc, data={"customer": "C001", "required_date": "2026-12-20",
                                                    "lines": [{"sku": "HSG-100", "qty": "2"}]},
                                 confidence={}, created_at=msg.received_at)
    job = ImportJob.objects.create(message=msg, mode="accept_valid", started_at=msg.received_at,
                                   updated_at=msg.received_at)
    nobody = get_user_model().objects.create_user(username="nobody", password="pw-nobody")
    return {
        "tokens": {"admin": token_create(user=company["users"]["admin"], name="fuzz")[1],
                   "nobody": token_create(user=nobody, name="fuzz")[1]},
        "ids": {"number": [o.number for o in orders], "message_id": [msg.pk, doc.pk], "draft_id": [draft.pk],
                "job_id": [job.pk], "code": ["T1"], "customer": ["C001"], "channel": ["miniprogram"],
                "token": [quick_link_issue(customer="C0502", actor=company["actors"]["admin"])]},
    }


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """Django closes a connection that is not in autocommit when a request starts or finishes;
    the test runs in one transaction, so (as Django's test client does) not here."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


_calls: list[int] = []


@pytest.fixture(scope="module", autouse=True)
def _count_requests():
    """How many requests the pass made, for the record (shown with ``-s``)."""
    yield
    print(f"\nschemathesis: {len(_calls)} requests, none answered 5xx")


@pytest.fixture(autouse=True)
def _forget_caches():
    from orderhub.notify.services import clear_caches
    from orderhub.rules.engine import forget_rules

    yield
    clear_caches()
    forget_rules()


def _reach_real_objects(case, ids: dict) -> None:
    """Half the generated path parameters (by a property of the generated value, so the run
    stays derandomized) are replaced by ids that exist."""
    for name, value in list((case.path_parameters or {}).items()):
        if name in ids and len(str(value)) % 2 == 0:
            known = ids[name]
            case.path_parameters[name] = known[len(str(value)) // 2 % len(known)]


@pytest.mark.parametrize("who", ["admin", "nobody"])
@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_5xx_and_every_answer_as_documented(case, world, who):
    _reach_real_objects(case, world["ids"])
    if who == "admin" or case.operation.path != "/api/orders":  # keep no-role orders rare
        response = case.call_and_validate(headers={"Authorization": f"Bearer {world['tokens'][who]}"},
                                          checks=CHECKS)
        _calls.append(response.status_code)
