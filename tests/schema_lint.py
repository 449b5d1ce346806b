"""Rules the live, migrated schema must obey, read from pg_catalog.

Each rule returns the list of violations (empty = clean), so a test can both assert the
real schema is clean and prove the rule catches a throwaway table that breaks it.
"""

from __future__ import annotations

import enum
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

import app.models  # noqa: F401  (fills the metadata)
from app.triggers import tables_with_updated_at

IGNORED_TABLES = {"alembic_version"}
# External identities: each must have one SQL type wherever it appears.
IDENTITY_COLUMNS = (
    "request_id",
    "cache_key",
    "query_id",
    "conversation_id",
    "session_id",
    "user_id",
)


async def _rows(conn: AsyncConnection, sql: str) -> list[Any]:
    return list((await conn.execute(sa.text(sql))).all())


async def db_tables(conn: AsyncConnection) -> set[str]:
    rows = await _rows(
        conn,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')",
    )
    return {str(r[0]) for r in rows} - IGNORED_TABLES


async def unindexed_foreign_keys(conn: AsyncConnection) -> list[str]:
    """FK columns that are not the leading column(s) of any index."""
    rows = await _rows(
        conn,
        """
        SELECT c.conrelid::regclass::text, c.conname
        FROM pg_constraint c
        JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE c.contype = 'f' AND n.nspname = 'public'
          AND NOT EXISTS (
            SELECT 1 FROM pg_index i
            WHERE i.indrelid = c.conrelid
              AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
              AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey
          )
        """,
    )
    return [f"{t}.{name}" for t, name in rows]


async def bad_user_columns(conn: AsyncConnection) -> list[str]:
    """Columns named user_id / *_by that are not BIGINT with an FK to users(id)."""
    rows = await _rows(
        conn,
        """
        SELECT a.attrelid::regclass::text AS tbl, a.attname, format_type(a.atttypid, a.atttypmod),
               EXISTS (
                 SELECT 1 FROM pg_constraint f
                 WHERE f.contype = 'f' AND f.conrelid = a.attrelid AND f.conkey = ARRAY[a.attnum]
                   AND f.confrelid = 'public.users'::regclass
               ) AS has_fk
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
          AND (a.attname = 'user_id' OR a.attname LIKE '%\\_by')
        """,
    )
    return [
        f"{t}.{col} is {typ}{'' if fk else ' without FK to users'}"
        for t, col, typ, fk in rows
        if typ != "bigint" or not fk
    ]


async def ambiguous_names(conn: AsyncConnection) -> list[str]:
    """The seeds' failure: `response_feedback`, or a column named like a table."""
    tables = await db_tables(conn)
    problems = [f"table {t}" for t in tables if t == "response_feedback"]
    rows = await _rows(
        conn,
        """
        SELECT c.relname, a.attname FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        """,
    )
    problems += [
        f"column {t}.{col} is named like a table"
        for t, col in rows
        if col == "response_feedback" or col in tables
    ]
    return problems


async def missing_pk_or_created_at(conn: AsyncConnection) -> list[str]:
    rows = await _rows(
        conn,
        """
        SELECT c.relname,
               EXISTS (SELECT 1 FROM pg_constraint p WHERE p.conrelid = c.oid AND p.contype = 'p'),
               EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                        AND a.attname = 'created_at' AND a.attnotnull
                        AND a.atttypid = 'timestamptz'::regtype)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'alembic_version'
        """,
    )
    out = []
    for table, has_pk, has_created in rows:
        if not has_pk:
            out.append(f"{table} has no primary key")
        if not has_created:
            out.append(f"{table} has no `created_at timestamptz NOT NULL`")
    return out


async def updated_at_without_trigger(conn: AsyncConnection) -> list[str]:
    rows = await _rows(
        conn,
        """
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'updated_at'
        WHERE n.nspname = 'public' AND c.relkind = 'r'
          AND NOT EXISTS (
            SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal
              AND t.tgfoid = 'public.set_updated_at()'::regprocedure
          )
        """,
    )
    return [f"{r[0]} has updated_at but no set_updated_at trigger" for r in rows]


def metadata_enums() -> dict[str, list[str]]:
    """Enum type name → labels, from the Python enums behind the metadata's columns."""
    found: dict[str, list[str]] = {}
    for table in SQLModel.metadata.tables.values():
        for column in table.columns:
            col_type = column.type
            if isinstance(col_type, sa.ARRAY):
                col_type = col_type.item_type
            if isinstance(col_type, sa.Enum) and col_type.name:
                cls = col_type.enum_class
                assert cls is not None
                assert issubclass(cls, enum.Enum)
                found[col_type.name] = [str(m.value) for m in cls]
    return found


async def enum_mismatches(conn: AsyncConnection) -> list[str]:
    rows = await _rows(
        conn,
        """
        SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)
        FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
        JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' GROUP BY t.typname
        """,
    )
    in_db = {str(name): list(labels) for name, labels in rows}
    expected = metadata_enums()
    out = [f"enum {n} not in the database" for n in expected.keys() - in_db.keys()]
    out += [
        f"enum {n} in the database but not in the models" for n in in_db.keys() - expected.keys()
    ]
    out += [
        f"enum {n}: database {in_db[n]} != python {expected[n]}"
        for n in expected.keys() & in_db.keys()
        if in_db[n] != expected[n]
    ]
    return out


async def metadata_drift(conn: AsyncConnection) -> list[str]:
    in_db = await db_tables(conn)
    in_models = set(SQLModel.metadata.tables)
    return [f"table {t} has no model" for t in sorted(in_db - in_models)] + [
        f"model {t} has no table (no migration)" for t in sorted(in_models - in_db)
    ]


async def identity_type_drift(conn: AsyncConnection) -> list[str]:
    rows = await _rows(
        conn,
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), c.relname
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        """,
    )
    types: dict[str, dict[str, list[str]]] = {}
    for name, typ, table in rows:
        if name in IDENTITY_COLUMNS:
            types.setdefault(name, {}).setdefault(typ, []).append(table)
    return [
        f"{name} has several types: {by_type}"
        for name, by_type in types.items()
        if len(by_type) > 1
    ]


def _normalise_check(sql: str) -> str:
    sql = re.sub(r"^CHECK\s*", "", sql.strip(), flags=re.IGNORECASE)
    sql = re.sub(r"::[a-z_ ]+(\[\])?", "", sql)  # casts PostgreSQL adds
    return re.sub(r"[()\s]", "", sql).lower()


async def check_constraint_drift(conn: AsyncConnection) -> list[str]:
    """`alembic check` ignores CHECK constraints: compare names and bodies here."""
    rows = await _rows(
        conn,
        """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE c.contype = 'c' AND n.nspname = 'public'
        """,
    )
    in_db = {(str(t), str(n)): _normalise_check(str(d)) for t, n, d in rows}
    expected: dict[tuple[str, str], str] = {}
    for table in SQLModel.metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, sa.CheckConstraint):
                name = f"ck_{table.name}_{constraint.name}"
                if isinstance(constraint.name, str) and constraint.name.startswith("ck_"):
                    name = constraint.name
                expected[(table.name, name)] = _normalise_check(str(constraint.sqltext))
    tables = set(SQLModel.metadata.tables)
    out = [f"CHECK {t}.{n} missing in the database" for t, n in expected.keys() - in_db.keys()]
    out += [
        f"CHECK {t}.{n} not in the models"
        for t, n in in_db.keys() - expected.keys()
        if t in tables or t.startswith("lint_")
    ]
    out += [
        f"CHECK {t}.{n} differs: database {in_db[(t, n)]!r} != models {expected[(t, n)]!r}"
        for t, n in expected.keys() & in_db.keys()
        if in_db[(t, n)] != expected[(t, n)]
    ]
    return out


RULES = {
    "unindexed_foreign_keys": unindexed_foreign_keys,
    "bad_user_columns": bad_user_columns,
    "ambiguous_names": ambiguous_names,
    "missing_pk_or_created_at": missing_pk_or_created_at,
    "updated_at_without_trigger": updated_at_without_trigger,
    "enum_mismatches": enum_mismatches,
    "metadata_drift": metadata_drift,
    "identity_type_drift": identity_type_drift,
    "check_constraint_drift": check_constraint_drift,
}

__all__ = ["RULES", "tables_with_updated_at"]
