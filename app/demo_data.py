"""`feedback-service demo-data`: a few thousand believable rows in every table, so a
newcomer sees every endpoint and every analytics answer with data.

Rows are written with set-based SQL (generate_series) in one transaction, with a fixed
random seed. Every demo row is recognisable (ids and keys start with `demo-`, user ids
lie in DEMO_USER_IDS), so `--reset` removes only demo rows and never touches real data.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.auth import service as auth_service
from app.auth.models import Scope

DEMO_USER_FIRST = 900_000_001
DEMO_USERS = 300
DEMO_USER_IDS = range(DEMO_USER_FIRST, DEMO_USER_FIRST + DEMO_USERS)
DEMO_KEY_NAME = "demo-data"

# (provider, model, cost per 1K tokens in USD, typical latency ms)
MODELS = [
    ("openai", "gpt-4o", 0.0100, 1400),
    ("openai", "gpt-4o-mini", 0.0006, 700),
    ("anthropic", "claude-3-5-sonnet", 0.0150, 1600),
    ("anthropic", "claude-3-5-haiku", 0.0040, 800),
    ("mistral", "mistral-large", 0.0080, 1200),
    ("mistral", "mistral-small", 0.0010, 600),
    ("google", "gemini-1.5-pro", 0.0070, 1300),
    ("google", "gemini-1.5-flash", 0.0004, 500),
]
PATTERNS = [
    "tax_question",
    "calculation",
    "legal_reference",
    "summarization",
    "translation",
    "document_drafting",
]
VOTE_REASONS = [
    "Wrong tax year",
    "Missing source",
    "Outdated regulation",
    "Too generic",
    "Wrong calculation",
    "Clear and correct",
    "Saved me time",
    "Cites the right article",
]
VOTE_COMMENTS = [
    "L'aliquota indicata non è più in vigore dal 2024.",
    "Risposta chiara, grazie.",
    "Manca il riferimento alla circolare dell'Agenzia delle Entrate.",
    "Il calcolo degli acconti non torna.",
    "Perfetto, era proprio quello che cercavo.",
]
CACHE_COMMENTS = [
    "Risposta corretta ma un po' lunga.",
    "Non aggiornata alla legge di bilancio.",
    "Ottima sintesi.",
    "Esempio numerico sbagliato.",
]
CITIES = ["Milano", "Roma", "Torino", "Napoli", "Bologna", "Firenze", "Padova", "Bari"]
ORGANIZATIONS = [
    "Studio Rossi & Associati",
    "CAF Lavoro e Fisco",
    "Studio Tributario Bianchi",
    "Consulenza Verdi STP",
]
SPECIALIZATIONS = [
    "iva",
    "irpef",
    "ires",
    "regime_forfettario",
    "successioni",
    "imu",
    "lavoro",
    "crediti_imposta",
]
CREDENTIALS = [
    "dottore_commercialista",
    "revisore_legale",
    "consulente_fiscale",
    "consulente_lavoro",
    "caf_operator",
]
# (question, the AI's answer, an expert's correction, regulatory reference)
TAX_QA = [
    (
        "Qual è l'aliquota IVA per i servizi di ristorazione?",
        "L'aliquota IVA per la ristorazione è il 22%.",
        "La somministrazione di alimenti e bevande sconta l'aliquota ridotta del 10%.",
        "DPR 633/1972, Tabella A, parte III, n. 121",
    ),
    (
        "Entro quando va presentato il modello 730 precompilato?",
        "Il 730 va presentato entro il 30 giugno.",
        "Dal 2024 il termine per il 730 è il 30 settembre.",
        "D.Lgs. 1/2024, art. 16",
    ),
    (
        "Qual è il limite di ricavi per il regime forfettario?",
        "Il limite è 65.000 euro di ricavi o compensi.",
        "Il limite è 85.000 euro; oltre 100.000 euro si esce in corso d'anno.",
        "L. 190/2014, art. 1, c. 54 e 71",
    ),
    (
        "Come si calcola l'acconto IRPEF di novembre?",
        "L'acconto di novembre è il 40% dell'imposta dell'anno precedente.",
        "Con il metodo storico la seconda rata è il 60% dell'acconto dovuto (100% del rigo "
        "differenza), salvo i soggetti ISA.",
        "L. 97/1977, art. 1",
    ),
    (
        "L'IMU è dovuta sull'abitazione principale?",
        "Sì, l'IMU è sempre dovuta.",
        "No, salvo che l'immobile sia di categoria A/1, A/8 o A/9.",
        "L. 160/2019, art. 1, c. 740",
    ),
    (
        "Quali spese mediche sono detraibili al 19%?",
        "Tutte le spese mediche sono detraibili senza franchigia.",
        "Sono detraibili al 19% per la parte eccedente la franchigia di 129,11 euro, con "
        "pagamento tracciabile salvo farmaci e dispositivi medici.",
        "TUIR, art. 15, c. 1, lett. c)",
    ),
    (
        "Quando si applica il reverse charge nell'edilizia?",
        "Il reverse charge si applica a tutte le cessioni di immobili.",
        "Si applica alle prestazioni di servizi nel settore edile rese da subappaltatori "
        "e ai servizi di pulizia, demolizione e completamento di edifici.",
        "DPR 633/1972, art. 17, c. 6, lett. a) e a-ter)",
    ),
    (
        "Quanto dura il periodo di sorveglianza per la cedolare secca?",
        "La cedolare secca si può scegliere solo alla stipula del contratto.",
        "L'opzione si può esercitare anche nelle annualità successive, entro il termine "
        "di versamento dell'imposta di registro.",
        "D.Lgs. 23/2011, art. 3",
    ),
    (
        "Qual è l'imposta di successione tra coniugi?",
        "L'aliquota è l'8% su tutto l'asse ereditario.",
        "Il 4% sul valore eccedente la franchigia di 1.000.000 di euro per ciascun beneficiario.",
        "D.Lgs. 346/1990, art. 7",
    ),
    (
        "Il credito d'imposta per beni strumentali 4.0 è ancora disponibile?",
        "Sì, al 50% per tutti gli investimenti.",
        "Per il 2025 le aliquote sono ridotte e gli investimenti vanno prenotati sul "
        "portale GSE; verificare i limiti di spesa.",
        "L. 178/2020, art. 1, c. 1057-bis",
    ),
    (
        "Come si versa l'imposta di bollo sulle fatture elettroniche?",
        "Il bollo va applicato con contrassegno cartaceo.",
        "Si versa con F24 in modo virtuale, trimestralmente, sulla base dei dati dell'Agenzia.",
        "DM 17 giugno 2014, art. 6",
    ),
    (
        "Quali sono le scadenze della dichiarazione IVA annuale?",
        "Va presentata entro il 31 dicembre.",
        "Va presentata tra il 1° febbraio e il 30 aprile dell'anno successivo.",
        "DPR 322/1998, art. 8",
    ),
]

DATA_TABLES = [
    "users",
    "api_keys",
    "idempotency_keys",
    "votes",
    "routing_metrics",
    "routing_feedback",
    "response_cache",
    "cache_hit_days",
    "cache_feedback",
    "expert_profiles",
    "expert_feedback",
    "expert_faq_candidates",
    "user_erasures",
    # Filled by the quality-loop triggers from the demo votes and reviews above.
    "query_current_votes",
    "query_signals",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
]

# The demo's user_erasures rows are sha256 of a demo label ('demo-erasure-N'), not an HMAC
# of any user id, so they can never refuse a real user's token.

# A receiver that cannot exist (RFC 2606 `.invalid`), registered disabled: the demo shows the
# deliveries list without the dispatcher ever sending anything anywhere. It has no usable
# secret (the demo runs without the server key); rotating it gives it one.
DEMO_WEBHOOK_URL = "https://hooks.demo.invalid/feedback"
REVIEWED_QUERIES = 240  # the `% 240` of the expert reviews below
VOTED_QUERIES = 360  # the `% 360` of the votes below


@dataclass(frozen=True)
class DemoSummary:
    created: dict[str, int]
    skipped: bool = False


def _trust_from_counters() -> str:
    """The demo experts' trust and accuracy, computed from their counters by the same SQL
    the service uses (so the first real decision moves trust the expected way)."""
    from app.experts import service as experts_service
    from app.experts import trust

    profiles = experts_service.profiles
    p = profiles.c
    counters = {
        "approved": p.approved_count,
        "rejected": p.rejected_count,
        "agreements": p.agreement_count,
        "disagreements": p.disagreement_count,
    }
    stmt = (
        sa.update(profiles)
        .where(p.user_id.between(sa.literal_column(":first"), sa.literal_column(":last")))
        .values(
            trust_score=trust.trust_sql(**counters, verified=p.is_verified),
            feedback_accuracy_rate=trust.accuracy_sql(**counters),
        )
    )
    return _render(stmt)


def _render(clause: sa.ClauseElement) -> str:
    """A SQLAlchemy expression of the service's, as literal SQL for a demo statement."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return str(clause.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _candidate_weight() -> str:
    """The priority one correction adds, by the service's own rule (`trust.py`)."""
    from app.experts import trust

    return _render(
        trust.candidate_weight_sql(
            sa.literal_column("p.trust_score"), sa.literal_column("f.confidence_score")
        )
    )


async def demo_present(conn: AsyncConnection) -> bool:
    return bool(
        await conn.scalar(
            sa.text("SELECT EXISTS (SELECT 1 FROM routing_metrics WHERE request_id LIKE 'demo-%')")
        )
    )


async def remove_demo_rows(conn: AsyncConnection) -> None:
    """Delete only demo rows (children first; cascades take hit days and feedback)."""
    ids = {
        "first": DEMO_USER_IDS.start,
        "last": DEMO_USER_IDS.stop - 1,
        "webhook_url": DEMO_WEBHOOK_URL,
    }
    statements = [
        "DELETE FROM expert_faq_candidates WHERE expert_id IN (SELECT id FROM expert_profiles "
        "WHERE user_id BETWEEN :first AND :last) OR approved_by BETWEEN :first AND :last "
        "OR rejection_reason LIKE 'demo:%'",
        "DELETE FROM expert_profiles WHERE user_id BETWEEN :first AND :last",
        "DELETE FROM votes WHERE conversation_id LIKE 'demo-%'",
        "DELETE FROM routing_metrics WHERE request_id LIKE 'demo-%'",
        "DELETE FROM response_cache WHERE cache_key LIKE 'demo-%'",
        "DELETE FROM idempotency_keys WHERE caller = 'demo-data'",
        "DELETE FROM user_erasures WHERE user_hash IN (SELECT encode(sha256(convert_to("
        "'demo-erasure-' || g, 'UTF8')), 'hex') FROM generate_series(1, 5) g)",
        "DELETE FROM api_keys WHERE name LIKE 'demo-data%'",
        "DELETE FROM webhook_endpoints WHERE url = :webhook_url",
        "DELETE FROM webhook_events WHERE data ->> 'conversation_id' LIKE 'demo-%'",
        "DELETE FROM users WHERE id BETWEEN :first AND :last",
    ]
    for statement in statements:
        await conn.execute(sa.text(statement), ids)


def _demo_statements() -> list[tuple[str, dict[str, object]]]:
    rng = random.Random(20261123)  # noqa: S311  (sample data, not security)
    # Experts review the first REVIEWED_QUERIES answers; votes also reach the rest, which
    # no expert has reviewed yet, so the review queue has down-voted answers waiting.
    query_ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(VOTED_QUERIES)]
    providers = [m[0] for m in MODELS]
    models = [m[1] for m in MODELS]
    prices = [m[2] for m in MODELS]
    latencies = [m[3] for m in MODELS]
    questions = [q[0] for q in TAX_QA]
    originals = [q[1] for q in TAX_QA]
    corrections = [q[2] for q in TAX_QA]
    references = [q[3] for q in TAX_QA]
    common: dict[str, object] = {"first": DEMO_USER_IDS.start, "last": DEMO_USER_IDS.stop - 1}
    return [
        ("SELECT setseed(0.42)", {}),
        (
            "INSERT INTO users (id, created_at) SELECT g, now() - (random() * 60) * interval "
            "'1 day' FROM generate_series(:first, :last) g ON CONFLICT DO NOTHING",
            common,
        ),
        # Routing: 3000 requests over 30 days; cheaper models on simpler prompts.
        (
            "INSERT INTO routing_metrics (request_id, strategy_used, confidence, "
            "selected_provider, selected_model, baseline_provider, baseline_model, "
            "baseline_cost, actual_cost, pattern_detected, complexity_score, experimental, "
            "fallback_used, fallback_reason, latency_ms, prompt_tokens, completion_tokens, "
            "cache_hit, cache_key, user_id, session_id, created_at) "
            "SELECT 'demo-req-' || g, "
            "(ARRAY['learning','complexity','hybrid'])[1 + g % 3]::routing_strategy, "
            "(ARRAY['high','medium','low'])[1 + (g / 7) % 3]::routing_confidence, "
            "(CAST(:providers AS text[]))[m], (CAST(:models AS text[]))[m], 'openai', 'gpt-4o', "
            "round((tokens / 1000.0 * 0.01)::numeric, 6), "
            "round((tokens / 1000.0 * (CAST(:prices AS float8[]))[m])::numeric, 6), "
            "(CAST(:patterns AS text[]))[1 + g % 6], complexity, g % 17 = 0, g % 53 = 0, "
            "CASE WHEN g % 53 = 0 THEN 'provider timeout' END, "
            "((CAST(:latencies AS int[]))[m] * (0.6 + random()))::int, "
            "(tokens * 0.7)::int, (tokens * 0.3)::int, g % 9 = 0, "
            "CASE WHEN g % 9 = 0 THEN 'demo-cache-' || (g % 400) END, "
            "CASE WHEN g % 4 <> 0 THEN :first + g % 300 END, "
            "CASE WHEN g % 4 <> 0 THEN 'demo-session-' || (g % 900) END, "
            "now() - (random() * 30) * interval '1 day' "
            "FROM (SELECT g, 1 + (g * 7 + (random() * 3)::int) % 8 AS m, "
            "round(random()::numeric, 3)::float8 AS complexity, "
            "200 + (random() * 3800)::int AS tokens FROM generate_series(1, 3000) g) s",
            {
                **common,
                "providers": providers,
                "models": models,
                "prices": prices,
                "latencies": latencies,
                "patterns": PATTERNS,
            },
        ),
        (
            "INSERT INTO routing_feedback (request_id, quality_score, is_correct, is_helpful, "
            "comment, user_id, session_id, created_at) "
            "SELECT m.request_id, q, q >= 0.6, q >= 0.5, "
            "CASE WHEN q < 0.3 THEN 'Risposta imprecisa per un quesito fiscale' END, "
            "m.user_id, m.session_id, m.created_at + interval '2 minutes' "
            "FROM (SELECT request_id, user_id, session_id, created_at, "
            "round(least(1, greatest(0, 0.55 + (random() - 0.5) * 0.8 + "
            "CASE WHEN selected_model IN ('gpt-4o', 'claude-3-5-sonnet', 'mistral-large', "
            "'gemini-1.5-pro') THEN 0.15 ELSE 0 END))::numeric, 3)::float8 AS q "
            "FROM routing_metrics WHERE request_id LIKE 'demo-req-%' "
            "AND substr(md5(request_id), 1, 1) < '7') m",
            {},
        ),
        # Cache: 400 entries, daily hits, ratings (some entries badly rated, then flagged).
        (
            "INSERT INTO response_cache (cache_key, provider, model, prompt_hash, cost_usd, "
            "expires_at, hit_count, last_hit_at, status, flagged_at, created_at) "
            "SELECT 'demo-cache-' || g, (CAST(:providers AS text[]))[m], "
            "(CAST(:models AS text[]))[m], md5('prompt' || g), "
            "round((0.0005 + random() * 0.02)::numeric, 6), now() + interval '7 days', "
            "0, NULL, CASE WHEN g % 37 = 0 THEN 'flagged' ELSE 'active' END::cache_entry_status, "
            "CASE WHEN g % 37 = 0 THEN now() - interval '1 day' END, "
            "now() - (random() * 30) * interval '1 day' "
            "FROM (SELECT g, 1 + g % 8 AS m FROM generate_series(0, 399) g) s",
            {"providers": providers, "models": models},
        ),
        (
            "INSERT INTO cache_hit_days (cache_key, day, hits) "
            "SELECT c.cache_key, d::date, 1 + (random() * 40)::int "
            "FROM response_cache c, generate_series(current_date - 13, current_date, "
            "interval '1 day') d WHERE c.cache_key LIKE 'demo-cache-%' AND random() < 0.8",
            {},
        ),
        (
            "UPDATE response_cache c SET hit_count = h.total, last_hit_at = h.last_day "
            "FROM (SELECT cache_key, sum(hits) AS total, max(day)::timestamptz + interval "
            "'12 hours' AS last_day FROM cache_hit_days GROUP BY cache_key) h "
            "WHERE c.cache_key = h.cache_key AND c.cache_key LIKE 'demo-cache-%'",
            {},
        ),
        (
            "INSERT INTO cache_feedback (cache_key, rating, comment, user_agent, user_id, "
            "created_at) "
            "SELECT 'demo-cache-' || k, CASE WHEN k % 37 = 0 THEN 1 + g % 2 "
            "ELSE 3 + (random() * 2)::int END, "
            "CASE WHEN g % 11 = 0 THEN (CAST(:comments AS text[]))[1 + g % 4] END, "
            "(ARRAY['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15', "
            "'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0', "
            "'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1) Mobile/15E148'])[1 + g % 3], "
            "CASE WHEN g % 3 <> 0 THEN :first + g % 300 END, "
            "now() - (random() * 14) * interval '1 day' "
            "FROM (SELECT g, (g * 13) % 400 AS k FROM generate_series(1, 1500) g) s",
            {**common, "comments": CACHE_COMMENTS},
        ),
        # Experts: 12 profiles, 600 reviews of answered tax questions, FAQ candidates.
        (
            "INSERT INTO expert_profiles (user_id, credentials, credential_types, "
            "specializations, experience_years, feedback_count, feedback_accuracy_rate, "
            "average_response_time_seconds, trust_score, approved_count, rejected_count, "
            "agreement_count, disagreement_count, professional_registration_number, "
            "organization, location_city, is_verified, verification_date, is_active) "
            "SELECT :first + g, ARRAY['Iscrizione ODCEC n. ' || (1000 + g * 37)], "
            "ARRAY[(CAST(:credentials AS text[]))[1 + g % 5]]::expert_credential_type[], "
            "ARRAY[(CAST(:specs AS text[]))[1 + g % 8], "
            "(CAST(:specs AS text[]))[1 + (g + 3) % 8]], "
            # trust_score is recomputed from the counters by the next statement; expert
            # g = 1 has the evidence (60 approvals) to publish directly.
            "3 + g * 2, 0, NULL, NULL, 0.5, "
            "CASE WHEN g = 1 THEN 60 ELSE g % 4 END, g % 3, g * 2, g % 5, "
            "'ODCEC-' || (1000 + g * 37), "
            "(CAST(:orgs AS text[]))[1 + g % 4], (CAST(:cities AS text[]))[1 + g % 8], "
            "g % 5 <> 0, CASE WHEN g % 5 <> 0 THEN now() - interval '90 days' END, g <> 11 "
            "FROM generate_series(0, 11) g",
            {
                **common,
                "credentials": CREDENTIALS,
                "specs": SPECIALIZATIONS,
                "orgs": ORGANIZATIONS,
                "cities": CITIES,
            },
        ),
        (_trust_from_counters(), common),
        (
            "INSERT INTO expert_feedback (query_id, expert_id, feedback_type, category, "
            "query_text, original_answer, expert_answer, improvement_suggestions, "
            "regulatory_references, confidence_score, time_spent_seconds, complexity_rating, "
            "created_at) "
            "SELECT (CAST(:qids AS uuid[]))[1 + g % 240], e.id, t::feedback_type, "
            "CASE WHEN t = 'correct' THEN NULL ELSE (ARRAY['normativa_obsoleta', "
            "'interpretazione_errata', 'caso_mancante', 'calcolo_sbagliato', "
            "'troppo_generico'])[1 + g % 5]::italian_feedback_category END, "
            "(CAST(:questions AS text[]))[q], (CAST(:originals AS text[]))[q], "
            "CASE WHEN t = 'correct' THEN NULL ELSE (CAST(:corrections AS text[]))[q] END, "
            "CASE WHEN t = 'incomplete' THEN 'Citare la norma e i casi di esclusione.' END, "
            "CASE WHEN t = 'correct' THEN '{}'::text[] "
            "ELSE ARRAY[(CAST(:refs AS text[]))[q]] END, "
            "round((0.5 + random() * 0.5)::numeric, 2)::float8, 60 + (random() * 900)::int, "
            "1 + g % 5, now() - (random() * 30) * interval '1 day' "
            "FROM (SELECT g, 1 + (g % 240) % 12 AS q, "
            "(ARRAY['correct','correct','incomplete','incorrect'])[1 + (g * 7) % 4] AS t "
            "FROM generate_series(0, 599) g) s "
            "JOIN LATERAL (SELECT id FROM expert_profiles "
            "WHERE user_id = :first + s.g % 12) e ON true",
            {
                **common,
                "qids": query_ids,
                "questions": questions,
                "originals": originals,
                "corrections": corrections,
                "refs": references,
            },
        ),
        (
            "UPDATE expert_profiles p SET feedback_count = f.n, "
            "average_response_time_seconds = f.avg_time "
            "FROM (SELECT expert_id, count(*) AS n, "
            "avg(time_spent_seconds)::float8 AS avg_time FROM expert_feedback "
            "GROUP BY expert_id) f WHERE p.id = f.expert_id "
            "AND p.user_id BETWEEN :first AND :last",
            common,
        ),
        # One candidate per corrected query: the first correction's text; mixed statuses.
        (
            # The one f-string piece is the service's own priority rule, rendered.
            "INSERT INTO expert_faq_candidates (query_id, question, answer, source_feedback_id, "  # noqa: S608
            "expert_id, expert_trust_score, approval_status, approved_by, approved_at, "
            "decided_at, "
            "rejection_reason, suggested_category, suggested_tags, regulatory_references, "
            "priority_score, supporting_count) "
            "SELECT f.query_id, f.query_text, f.expert_answer, f.id, f.expert_id, p.trust_score, "
            # auto_approved only where the rule allows it (verified, active, trusted).
            "CASE WHEN p.is_verified AND p.is_active AND p.trust_score >= :threshold "
            "THEN 'auto_approved' ELSE s.status END::approval_status, "
            "CASE WHEN s.status = 'approved' THEN :first + 299 END, "
            "CASE WHEN s.status IN ('approved', 'auto_approved') THEN now() END, "
            "CASE WHEN s.status <> 'pending' OR (p.is_verified AND p.is_active "
            "AND p.trust_score >= 0.9) THEN now() END, "
            "CASE WHEN s.status = 'rejected' THEN 'demo: già coperto da una FAQ esistente' END, "
            "f.category, ARRAY['fisco', 'faq'], f.regulatory_references, "
            f"{_candidate_weight()}, 1 "
            "FROM (SELECT DISTINCT ON (query_id) * FROM expert_feedback "
            "WHERE expert_answer IS NOT NULL ORDER BY query_id, created_at) f "
            "JOIN expert_profiles p ON p.id = f.expert_id "
            "CROSS JOIN LATERAL (SELECT (ARRAY['pending','approved','rejected',"
            "'pending'])[1 + abs(hashtext(f.query_id::text)) % 4] AS status) s "
            "WHERE p.user_id BETWEEN :first AND :last",
            common,
        ),
        # Votes: 2500 thumbs over 30 days, some on the answers experts reviewed.
        (
            "INSERT INTO votes (conversation_id, vote, query_id, user_id, email, expert_ids, "
            "reasons, comment, created_at) "
            "SELECT 'demo-conv-' || (g % 1800), "
            "CASE WHEN random() < 0.72 THEN 'up' ELSE 'down' END::vote_direction, "
            "CASE WHEN g % 3 = 0 THEN (CAST(:qids AS uuid[]))[1 + g % 360] END, "
            "CASE WHEN g % 2 = 0 THEN :first + g % 300 END, "
            "CASE WHEN g % 10 = 0 THEN 'utente' || (g % 300) || '@example.it' END, "
            "'{}'::text[], "
            "CASE WHEN g % 4 = 0 THEN ARRAY[(CAST(:reasons AS text[]))[1 + g % 8]] "
            "ELSE '{}'::text[] END, "
            "CASE WHEN g % 13 = 0 THEN (CAST(:comments AS text[]))[1 + g % 5] END, "
            "now() - (random() * 30) * interval '1 day' FROM generate_series(1, 2500) g",
            {**common, "qids": query_ids, "reasons": VOTE_REASONS, "comments": VOTE_COMMENTS},
        ),
        (
            "INSERT INTO idempotency_keys (caller, key, request_fingerprint, status_code, "
            "response_body, expires_at) "
            "SELECT 'demo-data', 'demo-' || g, md5('fp' || g) || md5('fp2' || g), 201, "
            "'{\"status\":\"ok\"}', now() + interval '24 hours' FROM generate_series(1, 20) g",
            {},
        ),
        (
            "INSERT INTO user_erasures (user_hash, created_at) SELECT encode(sha256(convert_to("
            "'demo-erasure-' || g, 'UTF8')), 'hex'), now() - g * interval '5 days' "
            "FROM generate_series(1, 5) g",
            {},
        ),
        # Webhooks: the disabled demo endpoint, the newest 40 down votes as its events (the
        # payload app/votes/service.py emits), delivered, failed and pending deliveries.
        (
            "INSERT INTO webhook_endpoints (url, events, secret_ciphertext, enabled, "
            "disabled_reason, disabled_at) VALUES (:webhook_url, ARRAY['vote.down'], "
            "'demo: no secret', false, 'demo: hooks.demo.invalid does not exist', now())",
            {"webhook_url": DEMO_WEBHOOK_URL},
        ),
        (
            "INSERT INTO webhook_events (type, data, user_id, created_at) "
            "SELECT 'vote.down', jsonb_build_object('vote_id', id, 'conversation_id', "
            "conversation_id, 'query_id', query_id, 'reasons', reasons, 'expert_ids', "
            "expert_ids, 'user_id', user_id, 'created_at', created_at), user_id, created_at "
            "FROM votes WHERE conversation_id LIKE 'demo-%' AND vote = 'down' "
            "ORDER BY created_at DESC LIMIT 40",
            {},
        ),
        (
            "INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, "
            "next_attempt_at, last_status_code, last_error, delivered_at, created_at) "
            "SELECT ev.id, ep.id, s.status::webhook_delivery_status, s.attempts, "
            "ev.created_at + interval '5 minutes', s.code, s.error, "
            "CASE WHEN s.status = 'delivered' THEN ev.created_at + interval '1 second' END, "
            "ev.created_at FROM (SELECT *, row_number() OVER (ORDER BY created_at, id) AS n "
            "FROM webhook_events WHERE data ->> 'conversation_id' LIKE 'demo-%') ev "
            "JOIN webhook_endpoints ep ON ep.url = :webhook_url "
            "CROSS JOIN LATERAL (SELECT * FROM (VALUES "
            "(0, 'delivered', 1, 204, NULL), (1, 'delivered', 2, 200, NULL), "
            "(2, 'failed', 10, 503, 'HTTP 503 from the receiver'), "
            "(3, 'pending', 2, NULL, 'timed out')) AS v(k, status, attempts, code, error) "
            "WHERE v.k = ev.n % 4) AS s",
            {"webhook_url": DEMO_WEBHOOK_URL},
        ),
        (
            "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, "
            "duration_ms, created_at) "
            "SELECT d.id, a, CASE WHEN a = d.attempts THEN d.last_status_code ELSE 503 END, "
            "CASE WHEN a = d.attempts THEN d.last_error ELSE 'HTTP 503 from the receiver' END, "
            "40 + a * 7, d.created_at + a * interval '1 minute' FROM webhook_deliveries d "
            "JOIN webhook_endpoints ep ON ep.id = d.endpoint_id AND ep.url = :webhook_url "
            "CROSS JOIN generate_series(1, d.attempts) a",
            {"webhook_url": DEMO_WEBHOOK_URL},
        ),
    ]


async def _create_keys(engine: AsyncEngine) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        await auth_service.create_key(session, scope=Scope.ingest, name=f"{DEMO_KEY_NAME} gateway")
        expert_ids = (
            await session.scalars(
                sa.text(
                    "SELECT id FROM expert_profiles WHERE user_id BETWEEN :first AND :last "
                    "ORDER BY user_id LIMIT 3"
                ),
                {"first": DEMO_USER_IDS.start, "last": DEMO_USER_IDS.stop - 1},
            )
        ).all()
        for expert_id in expert_ids:
            await auth_service.create_key(
                session, scope=Scope.expert, name=f"{DEMO_KEY_NAME} expert", expert_id=expert_id
            )
        await session.commit()


async def load_demo_data(
    engine: AsyncEngine, *, auto_approval_threshold: float, reset: bool = False
) -> DemoSummary:
    """Insert the demo rows (one transaction); with `reset`, replace earlier demo rows.
    Without it, a database that already holds demo rows is left as it is. Auto-approved
    candidates obey the service's `auto_approval_threshold` (from the settings)."""
    async with engine.begin() as conn:
        if await demo_present(conn):
            if not reset:
                return DemoSummary(created={}, skipped=True)
            await remove_demo_rows(conn)
        before = {t: await _count(conn, t) for t in DATA_TABLES}
        for statement, params in _demo_statements():
            # asyncpg cannot infer a parameter's type in e.g. generate_series($1, $2).
            typed = statement.replace(":first", "CAST(:first AS bigint)").replace(
                ":last", "CAST(:last AS bigint)"
            )
            await conn.execute(sa.text(typed), {**params, "threshold": auto_approval_threshold})
    await _create_keys(engine)
    async with engine.connect() as conn:
        after = {t: await _count(conn, t) for t in DATA_TABLES}
    return DemoSummary(created={t: after[t] - before[t] for t in DATA_TABLES})


async def _count(conn: AsyncConnection, table: str) -> int:
    assert table in DATA_TABLES
    return int(await conn.scalar(sa.text(f'SELECT count(*) FROM "{table}"')) or 0)  # noqa: S608
