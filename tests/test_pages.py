"""`/` links, `/docs` works offline (assets from the package), every problem type has a page."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

import app.errors
from app.pages import ASSETS_PATH, PROBLEM_TYPES, SWAGGER_DIR

APP_DIR = Path(app.errors.__file__).resolve().parent


def _emitted_slugs() -> set[str]:
    """Every slug a problem can carry: AppError subclasses (any module) and literal slugs."""
    slugs: set[str] = set()
    stack = [app.errors.AppError]
    while stack:
        cls = stack.pop()
        slugs.add(cls.slug)
        stack.extend(cls.__subclasses__())
    for source in APP_DIR.rglob("*.py"):
        slugs |= set(re.findall(r'slug="([a-z-]+)"', source.read_text()))
    return slugs


async def test_root_links_to_docs_and_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for link in ('href="/docs"', 'href="/healthz"', 'href="/readyz"'):
        assert link in response.text


async def test_docs_load_only_local_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    urls += re.findall(r"""url: ?["']([^"']+)["']""", page.text)
    assert urls
    assert not [u for u in urls if "//" in u], "the docs page must not load from another host"
    assert '"validatorUrl": null' in page.text  # no badge fetched from validator.swagger.io
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"{ASSETS_PATH}/{asset}" in page.text
        served = await client.get(f"{ASSETS_PATH}/{asset}")
        assert served.status_code == 200
        assert served.content == (SWAGGER_DIR / asset).read_bytes()


def test_vendored_swagger_ui_keeps_its_licence_and_version() -> None:
    assert "Apache License" in (SWAGGER_DIR / "LICENSE").read_text()
    assert "swagger-ui-dist 5." in (SWAGGER_DIR / "VERSION").read_text()


async def test_every_problem_type_has_a_page(client: httpx.AsyncClient) -> None:
    slugs = _emitted_slugs()
    assert {"forbidden", "validation-error", "database-unavailable"} <= slugs
    assert slugs <= set(PROBLEM_TYPES), slugs - set(PROBLEM_TYPES)
    for slug in slugs:
        response = await client.get(f"/problems/{slug}")
        assert response.status_code == 200, slug
        assert response.headers["content-type"].startswith("text/html")
        assert "What it means" in response.text
        assert "What to do" in response.text
        assert str(PROBLEM_TYPES[slug].status) in response.text


async def test_unknown_problem_type_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/problems/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_problem_type_uri_from_a_real_error_resolves(client: httpx.AsyncClient) -> None:
    error = await client.get("/api/v1/analytics/votes")
    assert error.status_code == 401
    page = await client.get(error.json()["type"])
    assert page.status_code == 200
