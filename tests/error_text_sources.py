"""The messages people can read in errors, found in the source: every literal (or module
constant, or f-string as a `{placeholder}` template) given to a KuraError subclass or to a
ValueError raised in a validator, in the packages whose errors the workspace shows."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

_PLACEHOLDER = re.compile(r"\{[a-z0-9_]*\}")

SOURCE = Path(__file__).resolve().parent.parent / "src" / "kura"
# What the therapist workspace calls; the operator's tools (backups, ops, console, cli,
# config, db) speak English to the operator and are left out.
PACKAGES = (
    "auth",
    "bookings",
    "clinical",
    "exports",
    "invoices",
    "monitoring",
    "orgs",
    "patients",
    "payments",
    "users",
    "briefings",
    "phones.py",
    "inputs.py",
)
# Failures of our own machinery that are logged and retried, never shown to a person.
INTERNAL = {
    "briefings/speech.py",
    "briefings/script.py",
    "monitoring/transcribe.py",
    "exports/archive.py",
    "exports/storage.py",
}
ERRORS = {
    "KuraError",
    "BadRequest",
    "NotAuthenticated",
    "Forbidden",
    "NotFound",
    "Conflict",
    "Gone",
    "ServiceUnavailable",
    "ValueError",
}


def _error_classes(tree: ast.Module) -> set[str]:
    """Subclasses of a known error defined in this module (PasswordPolicyError…)."""
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(
            isinstance(base, ast.Name)
            and base.id.endswith(
                (
                    "Error",
                    "Request",
                    "Conflict",
                    "Forbidden",
                    "NotFound",
                    "Gone",
                    "Locked",
                    "Attempts",
                    "Unavailable",
                )
            )
            for base in node.bases
        )
    }


def _template(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                parts.append("{" + _placeholder(ast.unparse(value.value)) + "}")
            elif isinstance(value, ast.Constant):
                parts.append(str(value.value))
        return "".join(parts)
    return None


def _placeholder(expression: str) -> str:
    """`{MIN_PASSWORD_LENGTH}`, `{wait / 60}` → a plain name for the catalogue."""
    return "".join(c if c.isalnum() else "_" for c in expression).strip("_").lower() or "value"


def messages() -> Iterator[tuple[str, str]]:
    """(where, English template) for every error message of the workspace's packages."""
    shared: dict[str, str] = {}
    trees = []
    for package in PACKAGES:
        root = SOURCE / package
        for path in [root] if root.suffix == ".py" else sorted(root.rglob("*.py")):
            if str(path.relative_to(SOURCE)) in INTERNAL:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            trees.append((path, tree))
            for node in tree.body:
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id.isupper()
                    and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str)
                ):
                    shared[node.targets[0].id] = node.value.value
    names = set(ERRORS)
    for _path, tree in trees:
        names |= _error_classes(tree)
    for path, tree in trees:
        raised = {
            id(node.exc)
            for node in ast.walk(tree)
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
        }
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
                continue
            if not call.args or (call.func.id not in names and id(call) not in raised):
                continue
            template = _template(call.args[0], shared)
            if template and " " in _PLACEHOLDER.sub("", template).strip():
                yield f"{path.relative_to(SOURCE)}:{call.lineno}", template
