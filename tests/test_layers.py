"""The layers hold by construction: plumbing never imports a domain, the route class
imports only the database module, and a domain reads another domain's tables only where
a documented reason says so (analytics and privacy read every table)."""

import ast
import enum
import importlib
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
PLUMBING = {
    "config",
    "db",
    "errors",
    "middleware",
    "observability",
    "query_params",
    "transaction",
    "health",
}
# Tables every domain may read, and why.
SHARED_TABLES = {"analytics": "the rollups are every domain's read model (kept by triggers)"}
# Importers allowed to reach another domain's `models`, and why.
MODEL_READERS = {
    "privacy": "erasure and export touch every table",
    "dashboard": "pages show what the domains store (through their services)",
}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(APP.parent).with_suffix("").parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name == "app" or name.startswith("app.")}


def _domains() -> set[str]:
    return {p.name for p in APP.iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in APP.rglob("*.py")}


def test_the_route_class_imports_only_the_database_module() -> None:
    imports = _graph()["app.transaction"]
    assert {name.rpartition(".")[0] for name in imports} == {"app.db"}


def test_plumbing_imports_no_domain() -> None:
    domains = _domains()
    offenders = {
        module: sorted(i for i in imports if i.count(".") >= 1 and i.split(".")[1] in domains)
        for module, imports in _graph().items()
        if module.split(".")[-1] in PLUMBING and module.count(".") == 1
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def _is_value_type(dotted: str) -> bool:
    """An enum (a scope, a status) is a shared value type, not a table."""
    module, _, name = dotted.rpartition(".")
    try:
        target = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return isinstance(target, type) and issubclass(target, enum.Enum)


def test_domains_read_other_domains_tables_only_with_a_reason() -> None:
    domains = _domains()
    offenders = []
    for module, imports in _graph().items():
        parts = module.split(".")
        if len(parts) < 3 or parts[1] not in domains or parts[1] in MODEL_READERS:
            continue
        for name in imports:
            target = name.split(".")
            if (
                len(target) >= 3
                and target[1] in domains
                and target[1] != parts[1]
                and target[1] not in SHARED_TABLES
                and target[2] == "models"
                and (len(target) == 3 or not _is_value_type(name))
            ):
                offenders.append((module, name))
    assert sorted(set(offenders)) == []


def test_the_walker_sees_real_imports() -> None:
    graph = _graph()
    assert "app.db.opened_session" in graph["app.transaction"]
    assert any(name.startswith("app.votes") for name in graph["app.api"])
