"""`demo-data`: rows in every table, analytics answer with data, runs once, --reset."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from app import demo_data
from app.analytics.triggers import ROLLUP_TABLES
from app.auth import service as auth_service
from app.auth.models import Scope
from app.config import Settings
from app.experts import trust
from app.main import create_app
from tests.conftest import bearer, make_settings
from tests.ops.test_retention_and_cli import _cli

THRESHOLD = Settings.model_fields["expert_auto_approval_threshold"].default


async def _table_counts(conn) -> dict[str, int]:
    tables = (
        await conn.scalars(
            sa.text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version'"
            )
        )
    ).all()
    return {t: await conn.scalar(sa.text(f'SELECT count(*) FROM "{t}"')) for t in tables}


async def test_demo_data_fills_every_table_and_analytics(databases) -> None:
    url = await databases.migrated()
    app = create_app(make_settings(url))
    async with app.router.lifespan_context(app):
        engine = app.state.engine
        async with engine.begin() as conn:  # a real row that --reset must keep
            await conn.execute(
                sa.text("INSERT INTO votes (conversation_id, vote) VALUES ('real', 'up')")
            )

        summary = await demo_data.load_demo_data(engine, auto_approval_threshold=THRESHOLD)

        async with engine.connect() as conn:
            counts = await _table_counts(conn)
        # A new table needs demo rows too; rollups are derived by triggers from the rest.
        assert set(counts) == set(demo_data.DATA_TABLES) | set(ROLLUP_TABLES)
        assert all(n > 0 for n in counts.values()), counts
        assert sum(summary.created.values()) > 5000
        print(f"demo-data: {sum(summary.created.values())} rows {summary.created}")
        assert summary.created["routing_metrics"] == 3000
        assert summary.created["votes"] == 2500
        assert summary.created["expert_profiles"] == 12

        async with engine.connect() as conn:
            providers = set(
                (
                    await conn.scalars(
                        sa.text("SELECT DISTINCT selected_provider FROM routing_metrics")
                    )
                ).all()
            )
            questions = (
                await conn.scalars(sa.text("SELECT query_text FROM expert_feedback LIMIT 5"))
            ).all()
            statuses = set(
                (
                    await conn.scalars(
                        sa.text("SELECT DISTINCT approval_status::text FROM expert_faq_candidates")
                    )
                ).all()
            )
        assert providers == {"openai", "anthropic", "mistral", "google"}
        assert all(q.endswith("?") for q in questions)
        assert {"pending", "approved", "rejected"} <= statuses

        # Demo experts obey the trust rules: trust follows from their counters, and only
        # verified, active, trusted experts have auto-approved candidates.
        async with engine.connect() as conn:
            experts = (
                await conn.execute(
                    sa.text(
                        "SELECT approved_count, rejected_count, agreement_count, "
                        "disagreement_count, is_verified, trust_score FROM expert_profiles"
                    )
                )
            ).all()
            auto_authors = (
                await conn.execute(
                    sa.text(
                        "SELECT p.is_verified, p.is_active, p.trust_score "
                        "FROM expert_faq_candidates c JOIN expert_profiles p "
                        "ON p.id = c.expert_id WHERE c.approval_status = 'auto_approved'"
                    )
                )
            ).all()
            priorities = (
                await conn.execute(
                    sa.text(
                        "SELECT c.priority_score, c.expert_trust_score, f.confidence_score "
                        "FROM expert_faq_candidates c "
                        "JOIN expert_feedback f ON f.id = c.source_feedback_id"
                    )
                )
            ).all()
        for a, r, ag, dis, verified, score in experts:
            evidence = trust.Evidence(approved=a, rejected=r, agreements=ag, disagreements=dis)
            expected = trust.trust_score(evidence, verified=verified)
            assert score == pytest.approx(expected)
        assert auto_authors
        assert all(v and act and t >= THRESHOLD for v, act, t in auto_authors)
        # Priorities follow the service's rule for one supporting correction.
        assert priorities
        for priority, author_trust, confidence in priorities:
            assert priority == pytest.approx(trust.candidate_weight(author_trust, confidence))

        async with app.state.sessionmaker() as session:
            _, secret = await auth_service.create_key(session, scope=Scope.admin, name="t")
            await session.commit()
        admin = bearer(secret)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:
            # The default window: the last 7 days (demo rows span 30).
            votes = (await http.get("/api/v1/analytics/votes", headers=admin)).json()
            assert votes["totals"]["up"] > 0, votes
            assert votes["totals"]["down"] > 0, votes
            assert votes["top_reasons"]
            routing = await http.get(
                "/api/v1/analytics/routing", params={"group_by": "provider"}, headers=admin
            )
            assert routing.status_code == 200, routing.text
            assert len(routing.json()["groups"]) == 4
            cache = (await http.get("/api/v1/analytics/cache", headers=admin)).json()
            assert cache["hits"] > 0
            assert cache["flagged"]
            experts = (await http.get("/api/v1/analytics/experts", headers=admin)).json()
            assert len(experts["experts"]) >= 10
            assert all(e["feedback_count"] > 0 for e in experts["experts"])
            faq = (
                await http.get(
                    "/api/v1/faq-candidates", params={"status": "pending"}, headers=admin
                )
            ).json()
            assert faq["items"]

        again = await demo_data.load_demo_data(engine, auto_approval_threshold=THRESHOLD)
        assert again.skipped
        code, out, err = await _cli(url, "demo-data")
        assert code == 0, err
        assert "already there" in out

        reset = await demo_data.load_demo_data(
            engine, reset=True, auto_approval_threshold=THRESHOLD
        )
        assert not reset.skipped
        async with engine.connect() as conn:
            # Data tables only: rollup rows depend on the demo's random timestamps.
            data = set(demo_data.DATA_TABLES)
            after = {t: n for t, n in (await _table_counts(conn)).items() if t in data}
            before = {t: n for t, n in counts.items() if t in data}
            assert after == {**before, "api_keys": counts["api_keys"] + 1}
            assert (
                await conn.scalar(
                    sa.text("SELECT count(*) FROM votes WHERE conversation_id = 'real'")
                )
                == 1
            )
