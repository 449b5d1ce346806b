"""The widget module itself: small, and dependency-free (it imports nothing)."""

from __future__ import annotations

import re

from app.widget import assets

# Documented in the README ("Add the widget to your chat UI"); unminified, no build step.
MAX_BYTES = 15 * 1024


def source() -> str:
    return assets.widget().body.decode()


def test_module_is_under_15_kib_unminified() -> None:
    size = len(assets.widget().body)
    assert size < MAX_BYTES, f"{size} bytes"


def test_module_imports_nothing() -> None:
    code = re.sub(r"//[^\n]*", "", source())  # comments may say "import"
    assert not re.search(r"^\s*import[\s{*\"']", code, re.M), "static import"
    assert not re.search(r"\bimport\s*\(", code), "dynamic import()"
    assert "require(" not in code
    assert "importScripts" not in code


def test_module_defines_both_elements_of_the_public_contract() -> None:
    code = source()
    assert 'customElements.define("feedback-thumbs"' in code
    assert 'customElements.define("feedback-stars"' in code
    for attribute in ("conversation-id", "query-id", "token", "endpoint", "cache-key"):
        assert f'"{attribute}"' in code, attribute
