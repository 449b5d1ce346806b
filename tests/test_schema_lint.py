"""The schema lint: the migrated database obeys every rule, and each rule is proven to
catch a throwaway object that breaks it (created in a savepoint, then rolled back)."""

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.triggers import tables_with_updated_at
from tests import schema_lint


@pytest.mark.parametrize("rule", sorted(schema_lint.RULES))
async def test_migrated_schema_is_clean(connection: AsyncConnection, rule: str) -> None:
    assert await schema_lint.RULES[rule](connection) == []


BREAKERS = {
    "unindexed_foreign_keys": [
        "CREATE TABLE lint_fk (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, "
        "vote_ref uuid REFERENCES votes(id))"
    ],
    "bad_user_columns": [
        "CREATE TABLE lint_user (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, "
        "user_id uuid)"
    ],
    "ambiguous_names": [
        "CREATE TABLE lint_name (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, "
        "response_feedback text)"
    ],
    "missing_pk_or_created_at": ["CREATE TABLE lint_nopk (note text)"],
    "updated_at_without_trigger": [
        "CREATE TABLE lint_upd (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, "
        "updated_at timestamptz NOT NULL DEFAULT now())"
    ],
    "enum_mismatches": ["ALTER TYPE vote_direction RENAME VALUE 'up' TO 'upvote'"],
    "metadata_drift": [
        "CREATE TABLE lint_orphan (id bigint PRIMARY KEY, created_at timestamptz NOT NULL)"
    ],
    "identity_type_drift": [
        "CREATE TABLE lint_ident (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, "
        "request_id integer)"
    ],
    "check_constraint_drift": [
        "ALTER TABLE cache_feedback DROP CONSTRAINT ck_cache_feedback_rating_range",
        "ALTER TABLE cache_feedback ADD CONSTRAINT ck_cache_feedback_rating_range "
        "CHECK (rating >= 0 AND rating <= 10)",
    ],
}


@pytest.mark.parametrize("rule", sorted(schema_lint.RULES))
async def test_rule_catches_a_violation(connection: AsyncConnection, rule: str) -> None:
    savepoint = await connection.begin_nested()
    try:
        for statement in BREAKERS[rule]:
            await connection.execute(sa.text(statement))
        violations = await schema_lint.RULES[rule](connection)
    finally:
        await savepoint.rollback()
    assert violations, f"{rule} did not report a deliberate violation"


def test_every_rule_has_a_breaker() -> None:
    assert set(BREAKERS) == set(schema_lint.RULES)


@pytest.mark.parametrize("table", tables_with_updated_at())
async def test_updated_at_trigger_fires(connection: AsyncConnection, table: str) -> None:
    """Update a row of every table that has updated_at: the trigger moves it forward."""
    from tests.seed import seed_every_table

    savepoint = await connection.begin_nested()
    try:
        await seed_every_table(connection)
        before = (
            await connection.execute(sa.text(f"SELECT id, updated_at FROM {table} LIMIT 1"))
        ).one()
        await connection.execute(
            sa.text(f"UPDATE {table} SET created_at = created_at WHERE id = :id"), {"id": before[0]}
        )
        after = await connection.scalar(
            sa.text(f"SELECT updated_at FROM {table} WHERE id = :id"), {"id": before[0]}
        )
    finally:
        await savepoint.rollback()
    assert after > before[1]
