"""The OpenAPI document shows examples and the analytics definitions for every votes route."""

import re
from typing import Any

import email_validator
import httpx
import pytest
from pydantic import BaseModel, ValidationError

from app.votes.schemas import (
    _SPECIAL_USE,
    ConversationVotes,
    VoteAnalytics,
    VoteCreate,
    VoteRecorded,
)

ROUTES = {
    ("post", "/api/v1/feedback"): ("201", VoteRecorded),
    ("get", "/api/v1/conversations/{conversation_id}/votes"): ("200", ConversationVotes),
    ("get", "/api/v1/analytics/votes"): ("200", VoteAnalytics),
}


def component(doc: dict[str, Any], ref: str) -> dict[str, Any]:
    schema: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return schema


async def test_every_votes_route_documents_examples(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    for (method, path), (code, model) in ROUTES.items():
        operation = doc["paths"][path][method]
        assert operation["description"], path
        assert {"401", "403"} <= set(operation["responses"]), path
        ref = operation["responses"][code]["content"]["application/json"]["schema"]["$ref"]
        examples = component(doc, ref)["examples"]
        assert examples, path
        for example in examples:  # every documented example is a valid body of its model
            assert isinstance(model.model_validate(example), BaseModel)

    body_ref = doc["paths"]["/api/v1/feedback"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    request_examples = component(doc, body_ref)["examples"]
    assert {e["vote"] for e in request_examples} == {"up", "down"}
    for example in request_examples:
        VoteCreate.model_validate(example)


async def test_analytics_description_defines_counts_and_satisfaction(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/openapi.json")).json()
    description = doc["paths"]["/api/v1/analytics/votes"]["get"]["description"]
    assert "up / (up + down)" in description
    assert "`null` when there are no votes" in description
    assert "newest vote overall" in description
    assert "in the bucket of the time that vote was cast" in description
    assert "`to` minus 30 days" in description
    assert "UTC" in description
    votes_doc = doc["paths"]["/api/v1/conversations/{conversation_id}/votes"]["get"]
    assert "unknown conversation → 200" in votes_doc["description"]


@pytest.mark.parametrize("domain", [*email_validator.SPECIAL_USE_DOMAIN_NAMES, "example.com"])
def test_the_email_schema_states_which_domains_are_refused(domain: str) -> None:
    # schemathesis sent `...@x.test`: valid `format: email`, refused by email-validator.
    email = f"mario@x.{domain.upper() if domain == 'test' else domain}"
    admitted_by_schema = re.search(_SPECIAL_USE, email) is None
    try:
        VoteCreate(conversation_id="c-1", vote="up", email=email)
        accepted = True
    except ValidationError:
        accepted = False
    assert admitted_by_schema == accepted == (domain == "example.com")
