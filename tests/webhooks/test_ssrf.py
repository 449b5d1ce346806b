"""The address policy with DNS answers stubbed: every refused class, the allow-list, and the
same checks at each attempt (DNS rebinding, a redirect to a private address)."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.webhooks import ssrf
from app.webhooks.schemas import EventType
from app.webhooks.service import emit
from tests.webhooks.conftest import PUBLIC_IP, WebhookEnv, stub_resolver, wait_until

REFUSED = {
    "127.0.0.1": "loopback",
    "127.9.9.9": "loopback",
    "::1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.10": "private",
    "169.254.169.254": "link-local",  # cloud metadata
    "fe80::1": "link-local",
    "100.64.0.1": "CGNAT",
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "reserved",
    "0.0.0.0": "unspecified",
    "fd12:3456::1": "IPv6 ULA",
    "::ffff:10.0.0.1": "private",  # IPv4-mapped IPv6 is judged as the IPv4 address
    "192.0.2.1": "reserved",  # documentation range: not globally reachable
}


@pytest.mark.parametrize(("address", "kind"), sorted(REFUSED.items()))
async def test_each_address_class_is_refused(address: str, kind: str) -> None:
    resolver = stub_resolver({"hooks.example.com": [address]})
    with pytest.raises(ssrf.AddressRefused) as refused:
        await ssrf.check_url("https://hooks.example.com/x", ssrf.AllowList(), resolver)
    assert f"a {kind} address" in str(refused.value)
    assert "WEBHOOK_ALLOW_HOSTS" in str(refused.value)


async def test_a_public_address_is_the_one_to_connect_to() -> None:
    resolver = stub_resolver({"hooks.example.com": [PUBLIC_IP]})
    target = await ssrf.check_url("https://hooks.example.com/in?a=1", ssrf.AllowList(), resolver)
    assert target.connect_url == f"https://{PUBLIC_IP}:443/in?a=1"
    assert target.host_header == "hooks.example.com"
    assert target.hostname == "hooks.example.com"


async def test_one_private_answer_among_public_ones_is_refused() -> None:
    resolver = stub_resolver({"hooks.example.com": [PUBLIC_IP, "10.0.0.5"]})
    with pytest.raises(ssrf.AddressRefused, match="private"):
        await ssrf.check_url("http://hooks.example.com/", ssrf.AllowList(), resolver)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example.com/", "Only http and https"),
        ("file:///etc/passwd", "Only http and https"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("https:///nohost", "no host"),
        ("https://hooks.example.com:99999/", "malformed"),
        ("https://unknown.example.com/", "does not resolve"),
    ],
)
async def test_bad_urls_are_refused(url: str, message: str) -> None:
    resolver = stub_resolver({"hooks.example.com": [PUBLIC_IP]})
    with pytest.raises(ssrf.AddressRefused, match=message):
        await ssrf.check_url(url, ssrf.AllowList(), resolver)


async def test_allow_list_by_host_name_and_by_cidr() -> None:
    resolver = stub_resolver({"internal.corp": ["10.1.2.3"], "other.corp": ["10.9.9.9"]})
    allow = ssrf.AllowList.parse(" Internal.Corp , 10.9.0.0/16,")
    assert (await ssrf.check_url("http://internal.corp/", allow, resolver)).address == "10.1.2.3"
    assert (await ssrf.check_url("http://other.corp/", allow, resolver)).address == "10.9.9.9"
    with pytest.raises(ssrf.AddressRefused):
        await ssrf.check_url("http://[::1]:8080/", allow, resolver)


async def test_registration_refuses_a_private_url_with_422_naming_the_setting(
    client, admin_headers, app, monkeypatch
) -> None:
    monkeypatch.setattr(
        app.state,
        "webhook_resolver",
        stub_resolver({"hooks.example.com": ["10.0.0.7"]}),
        raising=False,
    )
    response = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/x", "events": ["vote.down"]},
        headers=admin_headers,
    )
    assert response.status_code == 422
    problem = response.json()
    assert "WEBHOOK_ALLOW_HOSTS" in problem["detail"]
    assert "private" in problem["detail"]
    assert problem["errors"][0]["field"] == "url"


class Recorder(httpx.AsyncBaseTransport):
    """Records what the dispatcher would send, answering from a script."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.requests: list[httpx.Request] = []
        self.responses = list(responses)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses.pop(0) if self.responses else httpx.Response(200)


async def _one_event(env: WebhookEnv) -> None:
    async with env.app.state.sessionmaker() as session:
        await emit(session, EventType.vote_down, {"conversation_id": "c"})
        await session.commit()


async def _attempts(env: WebhookEnv) -> list[str]:
    rows = await env.rows("SELECT error FROM webhook_attempts ORDER BY attempt")
    return [r.error or "" for r in rows]


async def test_each_attempt_rechecks_dns_and_connects_to_the_checked_address(
    webhook_env: WebhookEnv,
) -> None:
    answers = {"hooks.example.com": [PUBLIC_IP]}
    await webhook_env.register(
        "https://hooks.example.com/in", ["vote.down"], resolver=stub_resolver(answers)
    )
    answers["hooks.example.com"] = ["169.254.169.254"]  # DNS rebinding after registration
    transport = Recorder()
    dispatcher = webhook_env.dispatcher(resolver=stub_resolver(answers), transport=transport)
    await _one_event(webhook_env)
    dispatcher.start()

    async def refused_once() -> bool:
        return len(await _attempts(webhook_env)) >= 1

    await wait_until(refused_once, what="a refused attempt")
    assert transport.requests == []  # nothing was sent to the metadata address
    assert "link-local" in (await _attempts(webhook_env))[0]

    answers["hooks.example.com"] = [PUBLIC_IP]

    async def delivered() -> bool:
        return bool(
            await webhook_env.scalar(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'"
            )
        )

    await wait_until(delivered, what="delivery once DNS is public again")
    [sent] = transport.requests
    assert sent.url.host == PUBLIC_IP  # the checked address, not a second lookup
    assert sent.headers["host"] == "hooks.example.com"
    assert sent.extensions["sni_hostname"] == "hooks.example.com"


async def test_a_redirect_to_a_private_address_is_not_followed(
    webhook_env: WebhookEnv,
) -> None:
    answers = {"hooks.example.com": [PUBLIC_IP]}
    await webhook_env.register(
        "https://hooks.example.com/in", ["vote.down"], resolver=stub_resolver(answers)
    )
    transport = Recorder(
        httpx.Response(302, headers={"Location": "http://10.0.0.1/admin"}),
        httpx.Response(307, headers={"Location": "http://127.0.0.1:6379/"}),
    )
    dispatcher = webhook_env.dispatcher(resolver=stub_resolver(answers), transport=transport)
    await _one_event(webhook_env)
    dispatcher.start()

    async def two_attempts() -> bool:
        return len(await _attempts(webhook_env)) >= 2

    await wait_until(two_attempts, what="two redirected attempts")
    errors = await _attempts(webhook_env)
    assert "redirect to 'http://10.0.0.1/admin' not followed" in errors[0]
    assert "not followed" in errors[1]
    # Only the checked public address was ever contacted.
    assert {r.url.host for r in transport.requests} == {PUBLIC_IP}


@pytest.mark.parametrize(
    "address",
    ["::ffff:127.0.0.1", "2002:a00:1::1", "64:ff9b::a00:1", "64:ff9b::7f00:1"],
)
async def test_ipv6_forms_embedding_a_private_ipv4_are_refused(address: str) -> None:
    """IPv4-mapped, 6to4 and NAT64 addresses reach the IPv4 address they carry."""
    resolver = stub_resolver({"hooks.example.com": [address]})
    with pytest.raises(ssrf.AddressRefused):
        await ssrf.check_url("https://hooks.example.com/", ssrf.AllowList(), resolver)


def _embedded(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Any:
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address in ipaddress.ip_network("64:ff9b::/96"):
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None:
            return _embedded(inner)
    return address


@given(st.ip_addresses())
def test_only_globally_reachable_unreserved_unicast_addresses_pass(address: Any) -> None:
    judged = _embedded(address)
    expected_public = judged.is_global and not (judged.is_multicast or judged.is_reserved)
    assert (ssrf.address_class(address) is None) == expected_public
