"""NUL bytes, lone surrogates, 4-byte emoji, huge numbers and deep JSON in every body
field, query parameter, path parameter and header the OpenAPI document declares (plus
`Authorization`): each answer is a 4xx or an acceptance, never a 5xx."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from app.main import create_app
from tests.auth.test_scope_matrix import PATH_VALUES

pytestmark = pytest.mark.hostile

DEEP = 100_000  # nesting levels: far past any recursion limit
# Raw JSON texts, spliced into a body where a field's value goes.
HOSTILE_JSON: dict[str, str] = {
    "nul": json.dumps("a\x00b"),
    "lone surrogate": '"\\ud800x"',
    "emoji": json.dumps("😀👍🏽" * 3, ensure_ascii=False),
    "huge int": "9" * 400,
    "huge negative": "-" + "9" * 400,
    "huge float": "1e400",
    "deep": "[" * 2000 + "]" * 2000,
}
# Raw texts for query, path and header values.
HOSTILE_TEXT: dict[str, str] = {
    "nul": "a\x00b",
    "lone surrogate": "\ud800x",
    "emoji": "😀👍🏽" * 3,
    "huge int": "9" * 400,
    "huge float": "1e400",
    "deep": "[" * 2000,
}
WHOLE_BODIES: dict[str, bytes] = {
    "deep array": ("[" * DEEP + "]" * DEEP).encode(),
    "deep object": ('{"a":' * DEEP + "1" + "}" * DEEP).encode(),
    "not utf-8": b'{"a": "\xff\xfe"}',
    "nul": b'{"a": "\x00"}',
    "lone surrogate": b'{"a": "\xed\xa0\x80"}',
}

SCHEMA = create_app().openapi()


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return dict(SCHEMA["components"]["schemas"][ref.rsplit("/", 1)[1]])
    return schema


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in SCHEMA["paths"].items()
        for method, op in ops.items()
        if path.startswith("/api/v1")
    ]


def _body_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return None if schema is None else _resolve(schema)


def _example_body(schema: dict[str, Any] | None) -> dict[str, Any]:
    if schema is None:
        return {}
    for example in schema.get("examples", []):
        if isinstance(example, dict):
            return dict(example)
    return {}


def _with_raw(body: dict[str, Any], field: str, raw: str) -> bytes:
    """`body` as JSON with `field`'s value replaced by the raw JSON text `raw`."""
    marker = "__HOSTILE_VALUE__"
    text = json.dumps({**body, field: marker})
    return text.replace(json.dumps(marker), raw).encode("utf-8", "surrogatepass")


def _url(path: str, quoted: dict[str, str]) -> str:
    """`path` with its parameters filled: `quoted` overrides (already URL-encoded)."""
    return re.sub(
        r"{(\w+)}",
        lambda m: quoted.get(m.group(1), quote(PATH_VALUES.get(m.group(1), "x"), safe="")),
        path,
    )


def _quote(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


async def _send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: Any,
    content: bytes | None,
) -> int:
    response = await client.request(method, url, headers=headers, content=content)
    return response.status_code


OPERATIONS = _operations()


@pytest.fixture(autouse=True)
def _no_failed_auth_budget(app: Any) -> Iterator[None]:
    # Hostile `Authorization` values on every route would spend the per-address budget for
    # failed authentication (tested in tests/auth) and 429 the rest of the session.
    budget = app.state.auth.failed_auth
    saved, budget.per_minute = budget.per_minute, 0
    yield
    budget.per_minute = saved


@pytest.mark.parametrize(
    ("method", "path", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
async def test_hostile_values_never_cause_a_5xx(
    client: httpx.AsyncClient, admin_headers: dict[str, str], method: str, path: str, op: Any
) -> None:
    failures: list[str] = []
    json_headers = {**admin_headers, "Content-Type": "application/json"}
    body_schema = _body_schema(op)
    base_body = _example_body(body_schema)
    has_body = body_schema is not None
    base_content = json.dumps(base_body).encode() if has_body else None

    async def check(label: str, status: int) -> None:
        if status >= 500:
            failures.append(f"{label}: {status}")

    # Every top-level body field.
    for field in (body_schema or {}).get("properties", {}):
        for name, raw in HOSTILE_JSON.items():
            content = _with_raw(base_body, field, raw)
            await check(
                f"body.{field}={name}",
                await _send(client, method, _url(path, {}), json_headers, content),
            )
    if has_body:
        for name, raw_body in WHOLE_BODIES.items():
            await check(
                f"body={name}", await _send(client, method, _url(path, {}), json_headers, raw_body)
            )
    for param in op.get("parameters", []):
        where, pname = param["in"], param["name"]
        for name, text in HOSTILE_TEXT.items():
            url, headers = _url(path, {}), list(json_headers.items())
            if where == "path":
                url = _url(path, {pname: _quote(text)})
            elif where == "query":
                url = f"{url}?{quote(pname)}={_quote(text)}"
            elif where == "header":
                headers.append((pname, text.encode("utf-8", "surrogatepass")))  # type: ignore[arg-type]
            await check(
                f"{where}.{pname}={name}",
                await _send(client, method, url, headers, base_content),
            )
    # The credential itself.
    for name, text in HOSTILE_TEXT.items():
        credential = ("Bearer " + text).encode("utf-8", "surrogatepass")
        await check(
            f"header.Authorization={name}",
            await _send(
                client,
                method,
                _url(path, {}),
                {"Authorization": credential, "Content-Type": "application/json"},
                base_content,
            ),
        )
    assert failures == [], failures
