"""The README's operations sections exist and its configuration table mirrors Settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def _documented_default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def test_sections_exist() -> None:
    for title in ("Operations", "Scaling out", "Configuration"):
        assert _section(title).strip()


def test_configuration_table_lists_every_setting_with_its_default() -> None:
    table = _section("Configuration")
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| `?([^`|]*?)`? \|", table, re.M))
    expected = {}
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        expected[name.upper()] = _documented_default(default)
    assert rows == expected


def test_scaling_out_names_what_the_code_does() -> None:
    text = _section("Scaling out")
    for needle in (
        "API_KEY_CACHE_SECONDS",
        "RATE_LIMIT_PER_MINUTE",
        "DB_STATEMENT_CACHE_SIZE=0",
        "ANALYTICS_DATABASE_URL",
        "app.state.analytics_engine",
        "create_distributed_table",
    ):
        assert needle in text, needle
