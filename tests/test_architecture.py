"""The house's one dependency rule, checked on the source: the core (db/, jobs/, config,
logging) imports no domain; the domains are wired together by kura.registry and the app."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "kura"
CORE_PACKAGES = ("db", "jobs", "ai")
CORE_MODULES = (
    "config.py",
    "logging.py",
    "redaction.py",
    "errors.py",
    "pagination.py",
    "tracing.py",
)
NOT_DOMAINS = {*CORE_PACKAGES, "migrations"}


def _domains() -> set[str]:
    return {
        p.name
        for p in PACKAGE.iterdir()
        if (p / "__init__.py").exists() and p.name not in NOT_DOMAINS
    }


def _imports(path: Path) -> set[str]:
    """Every module imported anywhere in the file, function bodies included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_core_imports_no_domain() -> None:
    domains = _domains()
    assert {"patients", "monitoring", "backups", "payments"} <= domains
    core = [p for name in CORE_PACKAGES for p in (PACKAGE / name).rglob("*.py")]
    core += [PACKAGE / name for name in CORE_MODULES]
    offending = {
        str(path.relative_to(PACKAGE)): sorted(
            module
            for module in _imports(path)
            if module.startswith("kura.") and module.split(".")[1] in domains
        )
        for path in core
    }
    assert {path: mods for path, mods in offending.items() if mods} == {}


def test_every_domains_tasks_and_models_are_wired() -> None:
    """What the core no longer imports, the registry does: each domain's models and tasks."""
    wired = _imports(PACKAGE / "registry.py")
    for path in PACKAGE.glob("*/models.py"):
        assert f"kura.{path.parent.name}.models" in wired, path
    for path in PACKAGE.glob("*/tasks.py"):
        if path.parent.name not in CORE_PACKAGES:
            assert f"kura.{path.parent.name}.tasks" in wired or any(
                m.startswith(f"kura.{path.parent.name}") and m.endswith("tasks") for m in wired
            ), path
