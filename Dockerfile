# syntax=docker/dockerfile:1
# Two stages: build a virtualenv from pyproject.toml, then copy it into a clean slim image
# that runs as an unprivileged user. Build: docker build -t feedback-service .

FROM python:3.11-slim AS build
# uv (the Makefile's UV_VERSION) installs exactly what uv.lock pins, as `make install` does.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
WORKDIR /srv
RUN pip install --no-cache-dir uv==0.13.8
# Dependencies first (a cached layer while uv.lock is unchanged), then the code.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY alembic.ini ./
COPY app ./app
COPY alembic ./alembic
# Editable (uv's default): app/migrate.py finds alembic.ini and alembic/ beside the package.
RUN uv sync --frozen --no-dev

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    LOG_JSON=true \
    FEEDBACK_DATA_DIR=/var/lib/feedback-service
# Without DATABASE_URL the service runs its embedded PostgreSQL in FEEDBACK_DATA_DIR (a
# demo: `docker run -p 8000:8000 feedback-service`); with it, that directory stays empty.
RUN groupadd --system --gid 10001 feedback \
    && useradd --system --uid 10001 --gid feedback --no-create-home --shell /usr/sbin/nologin feedback \
    && mkdir -p /var/lib/feedback-service \
    && chown 10001:10001 /var/lib/feedback-service
WORKDIR /srv
COPY --from=build /opt/venv /opt/venv
COPY --from=build /srv /srv
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=2)"]
# uvicorn drains in-flight requests on SIGTERM (SHUTDOWN_GRACE_SECONDS, default 25 s).
STOPSIGNAL SIGTERM
CMD ["feedback-service", "serve"]
