"""`.env.example` lists every setting of `Settings` once, with its real default (#18).

The fields are read from `Settings.model_fields` at run time, so a setting added to config.py
without a line in `.env.example` (or a line left behind for a removed one) fails here.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import typing
from collections import Counter
from pathlib import Path

import pytest
from pydantic import AliasChoices, AliasPath, SecretBytes, SecretStr, TypeAdapter
from pydantic.fields import FieldInfo

from kura.config import Settings

EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"

# A setting line is `# NAME=value`: commented out, so a plain copy of the file changes nothing.
_SETTING = re.compile(r"#\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)")
_ASSIGNMENT = re.compile(r"\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=")


def _env_name(name: str, field: FieldInfo) -> str:
    """The environment variable pydantic-settings reads for a field (its first, if several)."""
    config = Settings.model_config
    alias: object = field.validation_alias or field.alias
    if isinstance(alias, AliasChoices):
        alias = alias.choices[0]
    if isinstance(alias, AliasPath):
        alias = alias.path[0]
    env = alias if isinstance(alias, str) else config.get("env_prefix", "") + name
    return env if config.get("case_sensitive", False) else env.upper()


def _settings() -> dict[str, tuple[str, FieldInfo]]:
    """Env name -> (field name, field), for every field of Settings."""
    return {_env_name(name, field): (name, field) for name, field in Settings.model_fields.items()}


def _example_lines() -> list[tuple[int, str, str]]:
    """(line number, name, value as a shell would read it) for each `# NAME=value` line."""
    found = []
    for number, line in enumerate(EXAMPLE.read_text().splitlines(), start=1):
        match = _SETTING.fullmatch(line)
        if match is None:
            continue
        words = shlex.split(match.group(2))
        assert len(words) <= 1, f".env.example:{number}: quote a value with spaces: {line!r}"
        found.append((number, match.group(1), words[0] if words else ""))
    return found


def _example_values() -> dict[str, str]:
    return {name: value for _, name, value in _example_lines()}


def _is_secret(annotation: object) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, SecretStr | SecretBytes):
        return True
    return any(_is_secret(arg) for arg in typing.get_args(annotation))


def test_every_line_is_commented_out() -> None:
    """Copying the file to .env and exporting it must change nothing."""
    for number, line in enumerate(EXAMPLE.read_text().splitlines(), start=1):
        assert not line.strip() or line.lstrip().startswith("#"), f".env.example:{number}: {line}"
        assert not _ASSIGNMENT.match(line), f".env.example:{number}: not commented out: {line}"


def test_every_setting_appears_exactly_once() -> None:
    counts = Counter(name for _, name, _ in _example_lines())
    missing = sorted(set(_settings()) - set(counts))
    assert not missing, f"settings missing from .env.example: {missing}"
    repeated = sorted(name for name, count in counts.items() if count > 1)
    assert not repeated, f"settings listed more than once in .env.example: {repeated}"


def test_every_name_is_a_setting() -> None:
    """No stale names: each `# NAME=` line is a field of Settings, spelled as its env name."""
    known = _settings()
    stale = [f"line {number}: {name}" for number, name, _ in _example_lines() if name not in known]
    assert not stale, f"not settings of kura.config.Settings: {stale}"


def test_the_fields_are_found() -> None:
    """Guards the parsing above: it sees the settings every deployment relies on."""
    names = set(_settings())
    assert {"ENVIRONMENT", "PORT", "DATABASE_URL", "SECRET_KEY"} <= names
    assert {"ENVIRONMENT", "PORT", "DATABASE_URL", "SECRET_KEY"} <= set(_example_values())


def test_defaults_shown_are_the_real_defaults() -> None:
    values = _example_values()
    wrong = []
    for env, (name, field) in _settings().items():
        shown = values.get(env)
        if shown is None or field.default_factory is not None or _is_secret(field.annotation):
            continue  # missing (reported above), computed at run time, or a secret (below)
        default = field.get_default()
        if default is None:
            if shown != "":
                wrong.append(f"{env}: default is unset, the file shows {shown!r}")
            continue
        if type(default) not in (str, int, float, bool):
            continue  # not a simple scalar (a Path, a list): described in words instead
        assert field.annotation is not None, env
        parsed = TypeAdapter(field.annotation).validate_python(shown)
        if parsed != default or type(parsed) is not type(default):
            wrong.append(f"{env}: default is {default!r}, the file shows {shown!r} ({name})")
    assert not wrong, "defaults in .env.example differ from Settings: " + "; ".join(wrong)


def test_secrets_are_empty_placeholders() -> None:
    values = _example_values()
    shown = {
        env: values[env]
        for env, (_, field) in _settings().items()
        if _is_secret(field.annotation) and values.get(env)
    }
    assert not shown, f"secrets must be shown empty in .env.example: {sorted(shown)}"


def test_uncommenting_every_default_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The values shown, set in the environment, give the same Settings as none at all."""
    for env in _settings():
        monkeypatch.delenv(env, raising=False)
    baseline = Settings().model_dump()
    for env, value in _example_values().items():
        if value:  # an empty NAME= is not "unset" (see the file's header)
            monkeypatch.setenv(env, value)
    assert Settings().model_dump() == baseline


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_the_shell_reads_the_values_shown(tmp_path: Path) -> None:
    """`set -a; . ./.env; set +a`, as the header says, exports each value as written."""
    uncommented = [
        line[1:].lstrip() if _SETTING.fullmatch(line) else line
        for line in EXAMPLE.read_text().splitlines()
    ]
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(uncommented) + "\n")
    dump = "import json, os; print(json.dumps(dict(os.environ)))"
    script = 'set -a; . "$1"; set +a; exec "$2" -c "$3"'
    result = subprocess.run(
        ["sh", "-c", script, "sh", env_file, sys.executable, dump],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    exported = json.loads(result.stdout)
    expected = _example_values()
    assert {name: exported.get(name) for name in expected} == expected
