"""The webhook routes: register, list, rotate, delete, deliveries, retry; admin only."""

from __future__ import annotations

import base64
import uuid

import pytest
import sqlalchemy as sa

from tests.webhooks.conftest import PUBLIC_IP, stub_resolver

URL = "https://hooks.example.com/feedback"


@pytest.fixture(autouse=True)
def _public_dns(app, monkeypatch) -> None:
    monkeypatch.setattr(
        app.state,
        "webhook_resolver",
        stub_resolver({"hooks.example.com": [PUBLIC_IP]}),
        raising=False,
    )


async def _register(client, headers, **body):
    response = await client.post(
        "/api/v1/webhooks", json={"url": URL, "events": ["vote.down"], **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_register_returns_a_generated_secret_stored_encrypted(
    client, admin_headers, db
) -> None:
    created = await _register(client, admin_headers, events=["vote.down", "cache_entry.flagged"])
    assert uuid.UUID(created["id"])
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 32
    assert created["events"] == ["cache_entry.flagged", "vote.down"]
    stored = (
        (
            await db.execute(
                sa.text("SELECT * FROM webhook_endpoints WHERE id = :i"), {"i": created["id"]}
            )
        )
        .mappings()
        .one()
    )
    assert all(created["secret"] not in str(v) for v in stored.values())
    assert stored["secret_ciphertext"].startswith("v1.")


async def test_own_secret_is_kept_and_a_bad_one_refused(client, admin_headers) -> None:
    mine = "whsec_" + base64.b64encode(b"k" * 32).decode()
    assert (await _register(client, admin_headers, secret=mine))["secret"] == mine
    bad = await client.post(
        "/api/v1/webhooks",
        json={"url": URL, "events": ["vote.down"], "secret": "hunter2"},
        headers=admin_headers,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "secret"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": URL, "events": ["vote.up"]}, "events.0"),
        ({"url": URL, "events": []}, "events"),
        ({"url": "x" * 2001, "events": ["vote.down"]}, "url"),
        ({"events": ["vote.down"]}, "url"),
    ],
)
async def test_invalid_bodies_name_the_field(client, admin_headers, body, field) -> None:
    response = await client.post("/api/v1/webhooks", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}


async def test_list_rotate_delete(client, admin_headers) -> None:
    created = await _register(client, admin_headers)
    listed = (await client.get("/api/v1/webhooks", headers=admin_headers)).json()
    [item] = [i for i in listed["items"] if i["id"] == created["id"]]
    assert "secret" not in item
    assert item["enabled"] is True
    assert item["secret_rotation_ends_at"] is None

    rotated = await client.post(
        f"/api/v1/webhooks/{created['id']}/rotate-secret", json={}, headers=admin_headers
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] != created["secret"]
    assert rotated.json()["secret_rotation_ends_at"] is not None
    listed = (await client.get("/api/v1/webhooks", headers=admin_headers)).json()
    [item] = [i for i in listed["items"] if i["id"] == created["id"]]
    assert item["secret_rotation_ends_at"] == rotated.json()["secret_rotation_ends_at"]

    path = f"/api/v1/webhooks/{created['id']}"
    assert (await client.delete(path, headers=admin_headers)).status_code == 204
    assert (await client.delete(path, headers=admin_headers)).status_code == 404
    assert (await client.get(f"{path}/deliveries", headers=admin_headers)).status_code == 404


async def test_list_pages_with_a_cursor(client, admin_headers) -> None:
    ids = [(await _register(client, admin_headers))["id"] for _ in range(3)]
    first = (await client.get("/api/v1/webhooks?limit=2", headers=admin_headers)).json()
    second = (
        await client.get(
            f"/api/v1/webhooks?limit=2&cursor={first['next_cursor']}", headers=admin_headers
        )
    ).json()
    seen = [i["id"] for i in first["items"] + second["items"]]
    assert len(first["items"]) == 2
    assert set(seen) == set(ids)  # one test transaction: equal created_at, ordered by id
    assert len(seen) == len(set(seen))
    assert second["next_cursor"] is None


async def test_unknown_delivery_and_webhook(client, admin_headers) -> None:
    created = await _register(client, admin_headers)
    missing = uuid.uuid4()
    retry = f"/api/v1/webhooks/{created['id']}/deliveries/{missing}/retry"
    assert (await client.post(retry, headers=admin_headers)).status_code == 404
    other = f"/api/v1/webhooks/{missing}/deliveries/{missing}/retry"
    assert (await client.post(other, headers=admin_headers)).status_code == 404
    rotate = f"/api/v1/webhooks/{missing}/rotate-secret"
    assert (await client.post(rotate, json={}, headers=admin_headers)).status_code == 404


async def test_admin_only(client, ingest_headers) -> None:
    assert (await client.get("/api/v1/webhooks", headers=ingest_headers)).status_code == 403
    response = await client.post(
        "/api/v1/webhooks", json={"url": URL, "events": ["vote.down"]}, headers=ingest_headers
    )
    assert response.status_code == 403
    assert (await client.get("/api/v1/webhooks")).status_code == 401


async def test_openapi_documents_every_status(client) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    expected = {
        ("/api/v1/webhooks", "post"): {"201", "422"},
        ("/api/v1/webhooks", "get"): {"200"},
        ("/api/v1/webhooks/{webhook_id}", "delete"): {"204", "404"},
        ("/api/v1/webhooks/{webhook_id}/rotate-secret", "post"): {"200", "404"},
        ("/api/v1/webhooks/{webhook_id}/enable", "post"): {"200", "404"},
        ("/api/v1/webhooks/{webhook_id}/deliveries", "get"): {"200", "404"},
        ("/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", "post"): {
            "202",
            "404",
            "409",
        },
    }
    for (path, method), statuses in expected.items():
        declared = set(paths[path][method]["responses"])
        assert statuses | {"401", "403"} <= declared, (path, method)


async def test_delete_drops_events_no_other_endpoint_awaits(client, admin_headers, db) -> None:
    from app.webhooks.schemas import EventType
    from app.webhooks.service import emit

    first = await _register(client, admin_headers)
    second = await _register(client, admin_headers)
    await emit(db, EventType.vote_down, {"conversation_id": "c"})
    await db.commit()

    async def counts() -> tuple[int, int]:
        events = await db.scalar(sa.text("SELECT count(*) FROM webhook_events"))
        deliveries = await db.scalar(sa.text("SELECT count(*) FROM webhook_deliveries"))
        return int(events or 0), int(deliveries or 0)

    assert await counts() == (1, 2)
    await client.delete(f"/api/v1/webhooks/{first['id']}", headers=admin_headers)
    assert await counts() == (1, 1)  # the other endpoint still awaits it
    await client.delete(f"/api/v1/webhooks/{second['id']}", headers=admin_headers)
    assert await counts() == (0, 0)
