"""Dashboard sign-in: the form, the session cookie's flags and contents, CSRF, refusals,
sign-out, and the security headers on every dashboard response."""

from __future__ import annotations

import base64
import json
import re

import httpx
from fastapi import FastAPI

from app.auth import service as auth_service
from app.auth.models import Scope
from app.dashboard.router import CONTENT_SECURITY_POLICY
from app.dashboard.session import SESSION_COOKIE, SessionSigner
from tests.dashboard.conftest import make_demo_key
from tests.dashboard.helpers import csrf_token, sign_in

CSP_DIRECTIVES = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
}


def _set_cookie(response: httpx.Response, name: str) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0]


async def test_login_form_has_the_named_field_and_button(http: httpx.AsyncClient) -> None:
    page = await http.get("/dashboard/login")
    assert page.status_code == 200
    assert re.search(r'<label for="api_key">API key</label>', page.text)
    assert re.search(r'<input id="api_key" name="api_key" type="password"', page.text)
    assert '<button type="submit">Sign in</button>' in page.text


async def test_admin_key_signs_in_with_a_strict_httponly_expiring_cookie(
    http: httpx.AsyncClient, demo_admin_key: str
) -> None:
    response = await sign_in(http, demo_admin_key)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    cookie = _set_cookie(response, SESSION_COOKIE)
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert "httponly" in flags
    assert "samesite=strict" in flags
    assert "path=/dashboard" in flags
    assert any(f.startswith("max-age=") and int(f.split("=")[1]) > 0 for f in flags)
    assert "secure" not in flags  # plain http: a Secure cookie would never come back
    assert (await http.get("/dashboard")).status_code == 200


async def test_session_cookie_holds_no_key_secret(
    http: httpx.AsyncClient, demo_admin_key: str
) -> None:
    response = await sign_in(http, demo_admin_key)
    value = _set_cookie(response, SESSION_COOKIE).split(";")[0].split("=", 1)[1]
    secret = demo_admin_key.split("_", 2)[2]
    assert secret not in value
    payload_part = value.split(".")[0]
    payload = json.loads(base64.urlsafe_b64decode(payload_part + "=" * (-len(payload_part) % 4)))
    assert set(payload) == {"k", "p", "c"}  # key id, public id, CSRF nonce
    assert secret not in json.dumps(payload)


async def test_cookie_is_secure_over_https(demo_app: FastAPI, demo_admin_key: str) -> None:
    transport = httpx.ASGITransport(app=demo_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as http:
        response = await sign_in(http, demo_admin_key)
        assert response.status_code == 303
        flags = {p.strip().lower() for p in _set_cookie(response, SESSION_COOKIE).split(";")}
        assert "secure" in flags


async def test_non_admin_key_is_refused_with_a_clear_message(
    http: httpx.AsyncClient, demo_app: FastAPI
) -> None:
    ingest = await make_demo_key(demo_app, Scope.ingest, name="not an admin")
    response = await sign_in(http, ingest)
    assert response.status_code == 403
    assert "The dashboard needs an admin key" in response.text
    assert "ingest key" in response.text
    assert SESSION_COOKIE not in http.cookies
    assert (await http.get("/dashboard")).status_code == 303


async def test_unknown_key_is_refused(http: httpx.AsyncClient, demo_admin_key: str) -> None:
    forged = demo_admin_key[:-4] + "AAAA"
    response = await sign_in(http, forged)
    assert response.status_code == 401
    assert "Unknown API key." in response.text
    assert SESSION_COOKIE not in http.cookies


async def test_login_without_csrf_token_is_refused(
    http: httpx.AsyncClient, demo_admin_key: str
) -> None:
    await http.get("/dashboard/login")  # the login cookie is there, the form field is not
    response = await http.post("/dashboard/login", data={"api_key": demo_admin_key})
    assert response.status_code == 403
    assert "security token" in response.text
    assert SESSION_COOKIE not in http.cookies


async def test_login_form_of_another_browser_is_refused(
    demo_app: FastAPI, http: httpx.AsyncClient, demo_admin_key: str
) -> None:
    transport = httpx.ASGITransport(app=demo_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as other:
        token = csrf_token((await other.get("/dashboard/login")).text)
    await http.get("/dashboard/login")
    response = await http.post(
        "/dashboard/login", data={"api_key": demo_admin_key, "csrf_token": token}
    )
    assert response.status_code == 403


async def test_sign_out_ends_the_session(http: httpx.AsyncClient, demo_admin_key: str) -> None:
    await sign_in(http, demo_admin_key)
    overview = await http.get("/dashboard")
    assert "Sign out" in overview.text
    response = await http.post("/dashboard/logout", data={"csrf_token": csrf_token(overview.text)})
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login?notice=signed_out"
    assert 'fbdash_session=""' in _set_cookie(response, SESSION_COOKIE)
    refused = await http.get("/dashboard/votes")
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/dashboard/login")


async def test_sign_out_without_csrf_token_is_refused(
    http: httpx.AsyncClient, demo_admin_key: str
) -> None:
    await sign_in(http, demo_admin_key)
    response = await http.post("/dashboard/logout", data={})
    assert response.status_code == 403
    assert (await http.get("/dashboard")).status_code == 200  # still signed in


async def test_cross_origin_post_is_refused_even_with_the_token(
    http: httpx.AsyncClient, demo_admin_key: str
) -> None:
    await sign_in(http, demo_admin_key)
    token = csrf_token((await http.get("/dashboard")).text)
    response = await http.post(
        "/dashboard/logout", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403


async def test_revoked_key_loses_its_session(http: httpx.AsyncClient, demo_app: FastAPI) -> None:
    key = await make_demo_key(demo_app, Scope.admin, name="to revoke")
    await sign_in(http, key)
    assert (await http.get("/dashboard")).status_code == 200
    async with demo_app.state.sessionmaker() as session:
        await auth_service.revoke_key(session, key.split("_")[1])
        await session.commit()
    response = await http.get("/dashboard")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/dashboard/login")


async def test_tampered_cookie_is_not_a_session(
    http: httpx.AsyncClient, demo_admin_key: str
) -> None:
    await sign_in(http, demo_admin_key)
    value = http.cookies[SESSION_COOKIE]
    http.cookies.clear()
    http.cookies.set(SESSION_COOKIE, value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert (await http.get("/dashboard")).status_code == 303


def test_session_expires(monkeypatch) -> None:
    import itsdangerous.timed

    signer = SessionSigner("secret", max_age_seconds=60)
    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() - 120)
    cookie, state = signer.new_session(key_id=__import__("uuid").uuid4(), public_id="abc")
    monkeypatch.setattr(itsdangerous.timed.time, "time", real_time)
    assert signer.read_session(cookie) is None
    fresh, state = signer.new_session(key_id=state.key_id, public_id="abc")
    assert signer.read_session(fresh) == state


async def test_next_parameter_is_never_an_open_redirect(
    http: httpx.AsyncClient, demo_admin_key: str
) -> None:
    form = await http.get("/dashboard/login", params={"next": "//evil.example/x"})
    response = await http.post(
        "/dashboard/login",
        data={
            "csrf_token": csrf_token(form.text),
            "api_key": demo_admin_key,
            "next": "//evil.example/x",
        },
    )
    assert response.headers["location"] == "/dashboard"


async def test_signed_out_page_redirects_to_sign_in_and_back(
    http: httpx.AsyncClient, demo_admin_key: str
) -> None:
    response = await http.get("/dashboard/cache")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login?next=%2Fdashboard%2Fcache"
    form = await http.get(response.headers["location"])
    signed_in = await http.post(
        "/dashboard/login",
        data={
            "csrf_token": csrf_token(form.text),
            "api_key": demo_admin_key,
            "next": "/dashboard/cache",
        },
    )
    assert signed_in.headers["location"] == "/dashboard/cache"


async def test_every_dashboard_response_carries_the_strict_csp(
    http: httpx.AsyncClient, demo_admin_key: str
) -> None:
    responses = [
        await http.get("/dashboard"),  # redirect to sign-in
        await http.get("/dashboard/login"),
        await http.get("/dashboard/static/dashboard.js"),
        await http.get("/dashboard/static/vendor/uplot/uPlot.iife.min.js"),
        await http.get("/dashboard/no-such-page"),
        await http.post("/dashboard/login", data={}),
    ]
    await sign_in(http, demo_admin_key)
    for path in ["", "/votes", "/routing", "/cache", "/experts", "/approval-queue"]:
        responses.append(await http.get(f"/dashboard{path}"))
    responses.append(await http.get("/dashboard/review-queue"))
    for response in responses:
        csp = response.headers["content-security-policy"]
        assert csp == CONTENT_SECURITY_POLICY
        assert {d.strip() for d in csp.split(";")} >= CSP_DIRECTIVES, response.url
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_pages_have_no_inline_script_or_handler(
    http: httpx.AsyncClient, demo_admin_key: str
) -> None:
    await sign_in(http, demo_admin_key)
    for path in ["", "/votes", "/routing", "/cache", "/experts", "/approval-queue", "/login"]:
        html = (await http.get(f"/dashboard{path}")).text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="/dashboard/static/' in tag or 'type="application/json"' in tag, tag
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert "style=" not in html
        assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from a CDN


async def test_static_serves_only_packaged_files(http: httpx.AsyncClient) -> None:
    assert (await http.get("/dashboard/static/../router.py")).status_code == 404
    assert (await http.get("/dashboard/static/%2e%2e/router.py")).status_code == 404
    assert (await http.get("/dashboard/static/vendor/VERSIONS")).status_code == 404
    licence = await http.get("/dashboard/static/vendor/htmx/LICENSE")
    assert licence.status_code == 200
    assert licence.headers["content-type"].startswith("text/plain")


async def test_database_down_is_a_503_page_with_retry_after() -> None:
    import uuid

    from app.main import create_app
    from tests.conftest import TOKEN_SECRET, make_settings

    # Nothing listens on port 1: every connection attempt fails at once.
    app = create_app(make_settings("postgresql+asyncpg://u:p@127.0.0.1:1/none"))
    async with app.router.lifespan_context(app):
        cookie, _ = SessionSigner(TOKEN_SECRET, max_age_seconds=60).new_session(
            key_id=uuid.uuid4(), public_id="abc123"
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", cookies={SESSION_COOKIE: cookie}
        ) as http:
            response = await http.get("/dashboard")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "The database is unavailable" in response.text
