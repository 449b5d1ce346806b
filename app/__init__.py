"""feedback-service: feedback on AI answers, one PostgreSQL schema built by Alembic."""
