"""The README's API example, as written there, works: the user it makes a token for may create
the order and move it out of its first stage."""

import json
import re
from pathlib import Path

import pytest

from orderhub.core.tokens import token_create
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db
README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_api_example_creates_and_moves_an_order(company):
    text = README.read_text(encoding="utf-8")
    user = re.search(r"orderhub token create --user (\w+) --name erp", text)[1]
    block = text[text.index("```sh\ncurl"):]
    block = block[:block.index("```", 5)]
    bodies = re.findall(r"-d '(\{.*?\})'", block, flags=re.S)
    create, move = json.loads(bodies[0]), json.loads(bodies[1])
    # the demo's customer and product are this fixture's C001 and HSG-100
    create["customer"], create["lines"][0]["sku"] = "C001", "HSG-100"
    api = ApiClient(token_create(user=company["users"][user], name="erp")[1])
    made = api.post("/api/orders", create)
    assert made.status_code == 201, made.content
    number = made.json()["number"]
    assert "/api/orders/$NUMBER/transition" in block
    moved = api.post(f"/api/orders/{number}/transition", move)
    assert moved.status_code == 200, moved.content.decode()
    assert moved.json()["stage"] == move["to"]
