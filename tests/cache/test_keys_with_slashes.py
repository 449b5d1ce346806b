"""Cache keys are stored as given, slashes included, and stay addressable (percent-encoded)."""

from urllib.parse import quote


async def test_a_key_with_slashes_round_trips(client, ingest_headers) -> None:
    key = "tenant/42/prompt/sha256:ab/hits"
    created = await client.post(
        "/api/v1/cache/entries",
        headers=ingest_headers,
        json={"cache_key": key, "provider": "openai", "model": "gpt-4o-mini", "cost_usd": "0.01"},
    )
    assert created.status_code == 201
    path = f"/api/v1/cache/entries/{quote(key, safe='')}"
    assert (await client.post(f"{path}/hits", headers=ingest_headers)).status_code == 204
    rated = await client.post(f"{path}/feedback", headers=ingest_headers, json={"rating": 5})
    assert rated.status_code == 201
    entry = await client.get(path, headers=ingest_headers)
    assert entry.status_code == 200
    body = entry.json()
    assert body["cache_key"] == key
    assert body["hit_count"] == 1
    assert body["rating_count"] == 1
