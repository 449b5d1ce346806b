"""The retry schedule (pure, property-tested) and the secrets at rest."""

from __future__ import annotations

import base64
import datetime as dt
import random
import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.config import DEFAULT_RETRY_SCHEDULE_SECONDS, Settings
from app.webhooks.backoff import JITTER, parse_retry_after, retry_delay
from app.webhooks.secrets import (
    PREFIX,
    SECRET_PATTERN,
    SecretBox,
    SecretUnreadable,
    generate_secret,
    secret_problem,
)

schedules = st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=12)


@given(schedules, st.integers(min_value=1, max_value=12), st.integers())
def test_delay_is_the_scheduled_wait_within_jitter(schedule, failures, seed) -> None:
    delay = retry_delay(failures, schedule, rng=random.Random(seed))
    if failures > len(schedule):
        assert delay is None
    else:
        base = schedule[failures - 1]
        assert delay is not None
        assert base * (1 - JITTER) - 1e-9 <= delay <= base * (1 + JITTER) + 1e-9


@given(schedules, st.floats(min_value=0, max_value=1e7), st.integers())
def test_retry_after_lengthens_the_wait_up_to_the_longest_step(schedule, asked, seed) -> None:
    plain = retry_delay(1, schedule, rng=random.Random(seed))
    honoured = retry_delay(1, schedule, retry_after=asked, rng=random.Random(seed))
    assert plain is not None
    assert honoured is not None
    assert honoured >= min(plain, max(schedule)) - 1e-9
    assert honoured <= max(plain, max(schedule)) + 1e-9
    if plain < asked <= max(schedule):
        assert honoured == pytest.approx(asked)


def test_default_schedule_spans_about_three_days() -> None:
    assert Settings().webhook_retry_schedule_seconds == list(DEFAULT_RETRY_SCHEDULE_SECONDS)
    total = sum(DEFAULT_RETRY_SCHEDULE_SECONDS)
    assert 2.5 * 86400 <= total <= 3.5 * 86400
    assert DEFAULT_RETRY_SCHEDULE_SECONDS[:4] == (5, 300, 1800, 7200)
    assert (
        retry_delay(len(DEFAULT_RETRY_SCHEDULE_SECONDS) + 1, DEFAULT_RETRY_SCHEDULE_SECONDS) is None
    )


def test_retry_after_header_forms() -> None:
    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Tue, 01 Dec 2026 10:05:00 GMT", now) == 300
    assert parse_retry_after("Tue, 01 Dec 2026 09:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_generated_secret_is_32_random_bytes_in_whsec_form() -> None:
    one, two = generate_secret(), generate_secret()
    assert one.startswith("whsec_")
    assert len(base64.b64decode(one.removeprefix("whsec_"))) == 32
    assert one != two
    assert secret_problem(one) is None


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("plain-password", "whsec_"),
        ("whsec_***", "base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24..64 bytes"),
    ],
)
def test_unusable_secrets_are_explained(secret: str, problem: str) -> None:
    assert problem in (secret_problem(secret) or "")


@given(st.binary(max_size=80), st.sampled_from(["", "=", "==", "x", "\n"]))
def test_the_schemas_secret_pattern_accepts_exactly_the_usable_secrets(
    raw: bytes, suffix: str
) -> None:
    secret = PREFIX + base64.b64encode(raw).decode() + suffix
    assert (re.fullmatch(SECRET_PATTERN, secret) is not None) == (secret_problem(secret) is None)


def test_sealed_secret_opens_only_with_its_key_and_row() -> None:
    box = SecretBox("server-secret")
    endpoint = uuid.uuid4()
    secret = generate_secret()
    sealed = box.seal(secret, endpoint)
    assert secret not in sealed
    assert secret.removeprefix("whsec_") not in sealed
    assert box.open(sealed, endpoint) == secret
    with pytest.raises(SecretUnreadable):
        SecretBox("another-server-secret").open(sealed, endpoint)
    with pytest.raises(SecretUnreadable):
        box.open(sealed, uuid.uuid4())  # copied to another endpoint's row
