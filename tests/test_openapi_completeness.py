"""The OpenAPI document a client generator reads: every status an operation can return, with
the problem schema; Idempotency-Key on every POST; integer bounds as integers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

PROBLEM_REF = "#/components/schemas/Problem"
SHARED = {"401", "403", "422", "429", "503"}


@pytest.fixture
async def doc(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    parsed: dict[str, Any] = json.loads(response.text)
    return parsed


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_info_has_a_description(doc: dict[str, Any]) -> None:
    assert "Idempotency-Key" in doc["info"]["description"]
    assert "/problems/" in doc["info"]["description"]


def test_every_api_operation_declares_the_shared_statuses(doc: dict[str, Any]) -> None:
    for path, method, op in _operations(doc):
        if path.startswith("/api/"):
            assert set(op["responses"]) >= SHARED, (method, path)


def test_every_post_declares_idempotency_key_and_409(doc: dict[str, Any]) -> None:
    posts = [(p, op) for p, m, op in _operations(doc) if m == "post" and p.startswith("/api/")]
    assert len(posts) >= 10
    for path, op in posts:
        headers = [p for p in op.get("parameters", []) if p["in"] == "header"]
        assert [h["name"] for h in headers].count("Idempotency-Key") == 1, path
        assert "409" in op["responses"], path


def test_every_write_declares_413_and_every_path_id_404(doc: dict[str, Any]) -> None:
    for path, method, op in _operations(doc):
        if not path.startswith("/api/"):
            continue
        if method in ("post", "put", "patch"):
            assert "413" in op["responses"], (method, path)
        if "{" in path:
            assert "404" in op["responses"], (method, path)


def test_every_error_response_is_a_problem_document(doc: dict[str, Any]) -> None:
    for path, method, op in _operations(doc):
        for code, response in op["responses"].items():
            if code[0] in "45":
                content = response["content"]
                assert list(content) == ["application/problem+json"], (method, path, code)
                assert content["application/problem+json"]["schema"]["$ref"] == PROBLEM_REF


def _integer_schemas(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "integer":
            found.append(node)
        for child in node.values():
            found += _integer_schemas(child)
    elif isinstance(node, list):
        for child in node:
            found += _integer_schemas(child)
    return found


def test_integer_bounds_are_integers(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for name in ("VoteCreate", "ExpertCreate", "RoutingMetricIn", "FeedbackTokenCreate"):
        prop = schemas[name]["properties"]["user_id"]
        schema = next(b for b in prop.get("anyOf", [prop]) if b.get("type") == "integer")
        assert schema["maximum"] == 2**63 - 1
        assert isinstance(schema["maximum"], int)
    for schema in _integer_schemas(doc):
        for bound in ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
            if bound in schema:
                assert isinstance(schema[bound], int), schema


def test_headers_the_service_reads_are_declared(doc: dict[str, Any]) -> None:
    rating = doc["paths"]["/api/v1/cache/entries/{cache_key}/feedback"]["post"]
    assert "User-Agent" in {p["name"] for p in rating["parameters"] if p["in"] == "header"}
    for path, _method, op in _operations(doc):
        if path.startswith("/api/"):
            names = [p["name"] for p in op["parameters"] if p["in"] == "header"]
            assert names.count("X-Request-ID") == 1, path


def test_every_property_has_a_description_and_an_example(doc: dict[str, Any]) -> None:
    missing = [
        f"{name}.{prop}"
        for name, schema in doc["components"]["schemas"].items()
        for prop, spec in schema.get("properties", {}).items()
        if not spec.get("description") or not (spec.get("examples") or "example" in spec)
    ]
    assert missing == []
    assert sum(len(s.get("properties", {})) for s in doc["components"]["schemas"].values()) > 290


def test_routes_that_look_up_a_body_reference_declare_404(doc: dict[str, Any]) -> None:
    for path in ("/api/v1/routing/feedback", "/api/v1/expert-feedback"):
        assert "404" in doc["paths"][path]["post"]["responses"], path
