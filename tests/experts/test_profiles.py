"""Expert profiles: create, list, read, update, expert keys; admin-only access."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import ApiKey, Scope
from app.users.models import User
from tests.conftest import KeyMaker, bearer
from tests.experts.conftest import NewExpert, SetProfile

URL = "/api/v1/experts"


async def test_create_returns_profile_with_prior_trust_and_registers_user(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    body = {
        "user_id": 4211,
        "credential_types": ["dottore_commercialista", "revisore_legale"],
        "credentials": ["ODCEC Milano"],
        "specializations": ["iva", "redditi"],
        "experience_years": 12,
        "professional_registration_number": "MI-12345",
        "organization": "Studio Rossi",
        "location_city": "Milano",
    }
    response = await client.post(URL, json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    data = response.json()
    uuid.UUID(data["id"])
    assert data["trust_score"] == 0.5
    assert data["user_id"] == 4211
    assert data["credential_types"] == ["dottore_commercialista", "revisore_legale"]
    assert data["specializations"] == ["iva", "redditi"]
    assert data["is_verified"] is False
    assert data["verification_date"] is None
    assert data["is_active"] is True
    assert data["feedback_count"] == 0
    assert data["feedback_accuracy_rate"] is None
    assert await db.scalar(sa.select(col(User.id)).where(col(User.id) == 4211)) == 4211


async def test_second_profile_for_same_user_is_409(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"user_id": 77, "credential_types": ["caf_operator"]}
    assert (await client.post(URL, json=body, headers=admin_headers)).status_code == 201
    again = await client.post(URL, json=body, headers=admin_headers)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_create_validation_errors_name_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    cases = [
        ({"user_id": 1, "credential_types": ["avvocato"]}, "credential_types.0"),
        ({"credential_types": []}, "user_id"),
        ({"user_id": 1}, "credential_types"),
        ({"user_id": 0, "credential_types": []}, "user_id"),
        ({"user_id": 1, "credential_types": [], "experience_years": 81}, "experience_years"),
        ({"user_id": 1, "credential_types": [], "experience_years": -1}, "experience_years"),
        ({"user_id": 1, "credential_types": [], "organization": "a\u0000b"}, "organization"),
        ({"user_id": 1, "credential_types": [], "specializations": [" "]}, "specializations.0"),
    ]
    for body, field in cases:
        response = await client.post(URL, json=body, headers=admin_headers)
        assert response.status_code == 422, (body, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, (body, response.text)


async def test_read_and_unknown_is_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_expert: NewExpert
) -> None:
    expert = await new_expert(organization="Studio Bianchi")
    got = await client.get(f"{URL}/{expert['id']}", headers=admin_headers)
    assert got.status_code == 200
    assert got.json() == expert
    missing = await client.get(f"{URL}/{uuid.uuid4()}", headers=admin_headers)
    assert missing.status_code == 404
    assert (await client.get(f"{URL}/not-a-uuid", headers=admin_headers)).status_code == 422


async def test_list_orders_by_trust_and_filters(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_expert: NewExpert,
    set_profile: SetProfile,
) -> None:
    low = await new_expert(specializations=["iva"])
    mid = await new_expert(specializations=["lavoro"])
    high = await new_expert(specializations=["iva", "lavoro"])
    await set_profile(low["id"], trust_score=0.2)
    await set_profile(mid["id"], trust_score=0.6, is_active=False)
    await set_profile(high["id"], trust_score=0.95)

    async def ids(**params: str | float) -> list[str]:
        response = await client.get(URL, params=params, headers=admin_headers)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["items"]]

    assert await ids() == [high["id"], mid["id"], low["id"]]
    assert await ids(min_trust=0.5) == [high["id"], mid["id"]]
    assert await ids(active="true") == [high["id"], low["id"]]
    assert await ids(active="false") == [mid["id"]]
    assert await ids(specialization="iva") == [high["id"], low["id"]]
    assert await ids(specialization="lavoro", active="true") == [high["id"]]
    assert await ids(specialization="diritto") == []
    for params in ({"min_trust": 1.5}, {"specialization": "iva\u0000"}, {"active": "x"}):
        bad = await client.get(URL, params=params, headers=admin_headers)
        assert bad.status_code == 422, params


async def test_list_keyset_pagination_walks_ties_without_gaps(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_expert: NewExpert,
    set_profile: SetProfile,
) -> None:
    experts = [await new_expert() for _ in range(5)]
    # Two ties at 0.7 and three at 0.5: pages of 2 must cross the tie boundaries.
    for e in experts[:2]:
        await set_profile(e["id"], trust_score=0.7)
    expected = sorted(
        experts, key=lambda e: (-(0.7 if e in experts[:2] else 0.5), uuid.UUID(e["id"]))
    )
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(URL, params=params, headers=admin_headers)).json()
        seen += [e["id"] for e in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in expected]
    assert pages == 3
    bad = await client.get(URL, params={"cursor": "!!"}, headers=admin_headers)
    assert bad.status_code == 422


async def test_patch_verification_sets_date_and_raises_prior(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_expert: NewExpert
) -> None:
    expert = await new_expert()
    before = dt.datetime.now(dt.UTC)
    response = await client.patch(
        f"{URL}/{expert['id']}", json={"is_verified": True}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["is_verified"] is True
    stamped = dt.datetime.fromisoformat(data["verification_date"])
    assert stamped >= before - dt.timedelta(seconds=5)
    # A verified credential adds one pseudo-success to the Beta(5, 5) prior: 6 / 11.
    assert data["trust_score"] == 6 / 11

    again = await client.patch(
        f"{URL}/{expert['id']}", json={"is_verified": True}, headers=admin_headers
    )
    assert again.json()["verification_date"] == data["verification_date"]

    off = await client.patch(
        f"{URL}/{expert['id']}", json={"is_verified": False}, headers=admin_headers
    )
    assert off.json()["verification_date"] is None
    assert off.json()["trust_score"] == 0.5


async def test_patch_profile_fields_and_active(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_expert: NewExpert
) -> None:
    expert = await new_expert()
    response = await client.patch(
        f"{URL}/{expert['id']}",
        json={
            "is_active": False,
            "specializations": ["lavoro"],
            "credential_types": ["consulente_lavoro"],
            "experience_years": 3,
            "location_city": "Roma",
            "organization": None,
        },
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["is_active"] is False
    assert data["specializations"] == ["lavoro"]
    assert data["credential_types"] == ["consulente_lavoro"]
    assert data["experience_years"] == 3
    assert data["location_city"] == "Roma"
    assert data["organization"] is None
    assert data["trust_score"] == 0.5
    empty = await client.patch(f"{URL}/{expert['id']}", json={}, headers=admin_headers)
    assert empty.status_code == 200
    assert empty.json()["is_active"] is False


async def test_patch_bad_values_are_422_and_unknown_is_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_expert: NewExpert
) -> None:
    expert = await new_expert()
    url = f"{URL}/{expert['id']}"
    for body, field in [
        ({"is_verified": None}, "is_verified"),
        ({"is_active": "maybe"}, "is_active"),
        ({"experience_years": 200}, "experience_years"),
        ({"credential_types": ["notaio"]}, "credential_types.0"),
        ({"trust_score": 1.0}, "trust_score"),
        ({"specializations": None}, "specializations"),
    ]:
        response = await client.patch(url, json=body, headers=admin_headers)
        assert response.status_code == 422, (body, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, body
    missing = await client.patch(
        f"{URL}/{uuid.uuid4()}", json={"is_active": False}, headers=admin_headers
    )
    assert missing.status_code == 404


async def test_expert_key_is_bound_to_profile_and_shown_once(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_expert: NewExpert,
    db: AsyncSession,
) -> None:
    expert = await new_expert()
    response = await client.post(
        f"{URL}/{expert['id']}/keys", json={"name": "laptop"}, headers=admin_headers
    )
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["key"].startswith("fbk_")
    assert data["expert_id"] == expert["id"]
    row = await db.scalar(sa.select(ApiKey).where(col(ApiKey.id) == uuid.UUID(data["id"])))
    assert row is not None
    assert row.scope is Scope.expert
    assert str(row.expert_id) == expert["id"]
    assert data["key"] not in row.secret_hash
    # The key works for the expert routes and nothing else.
    own = await client.post(
        "/api/v1/expert-feedback",
        json={
            "query_id": str(uuid.uuid4()),
            "feedback_type": "correct",
            "query_text": "q",
            "original_answer": "a",
            "confidence_score": 1,
            "time_spent_seconds": 5,
        },
        headers=bearer(data["key"]),
    )
    assert own.status_code == 201, own.text
    assert (await client.get(URL, headers=bearer(data["key"]))).status_code == 403
    no_body = await client.post(f"{URL}/{expert['id']}/keys", headers=admin_headers)
    assert no_body.status_code == 201
    unknown = await client.post(f"{URL}/{uuid.uuid4()}/keys", headers=admin_headers)
    assert unknown.status_code == 404


async def test_admin_routes_refuse_ingest_and_expert_keys_and_anonymous(
    client: httpx.AsyncClient,
    ingest_headers: dict[str, str],
    make_key: KeyMaker,
    new_expert: NewExpert,
) -> None:
    expert = await new_expert()
    other = await new_expert()
    expert_headers = bearer(await make_key(Scope.expert, expert_id=uuid.UUID(expert["id"])))
    some = uuid.uuid4()
    routes = [
        ("POST", URL, {"user_id": 5, "credential_types": []}),
        ("GET", URL, None),
        # An expert key reads its own profile and reviews (below), never another's.
        ("GET", f"{URL}/{other['id']}", None),
        ("PATCH", f"{URL}/{expert['id']}", {"is_active": False}),
        ("POST", f"{URL}/{expert['id']}/keys", None),
        ("GET", f"{URL}/{other['id']}/feedback", None),
        ("GET", "/api/v1/faq-candidates", None),
        ("POST", f"/api/v1/faq-candidates/{some}/approve", None),
        ("POST", f"/api/v1/faq-candidates/{some}/reject", {"reason": "no"}),
        ("GET", "/api/v1/analytics/experts", None),
    ]
    for method, url, body in routes:
        for headers in (ingest_headers, expert_headers):
            response = await client.request(method, url, json=body, headers=headers)
            assert response.status_code == 403, (method, url, response.text)
        anonymous = await client.request(method, url, json=body)
        assert anonymous.status_code == 401, (method, url)


async def test_an_expert_key_reads_exactly_its_own_profile_and_reviews(
    client: httpx.AsyncClient, make_key: KeyMaker, new_expert: NewExpert
) -> None:
    mine, theirs = await new_expert(), await new_expert()
    headers = bearer(await make_key(Scope.expert, expert_id=uuid.UUID(mine["id"])))
    profile = await client.get(f"{URL}/{mine['id']}", headers=headers)
    assert profile.status_code == 200
    assert profile.json()["id"] == mine["id"]
    reviews = await client.get(f"{URL}/{mine['id']}/feedback", headers=headers)
    assert reviews.status_code == 200
    assert reviews.json()["items"] == []
    assert (await client.get(f"{URL}/{theirs['id']}", headers=headers)).status_code == 403
    other = await client.get(f"{URL}/{theirs['id']}/feedback", headers=headers)
    assert other.status_code == 403
