"""The lockfiles in requirements/ agree with pyproject.toml (#17), checked offline.

Every install (make, CI, the image) takes its packages from a lock with --require-hashes and
then installs kura with --no-deps, so a dependency added to pyproject.toml without `make lock`
would simply be missing. These tests fail first, naming the command to run:
  base.lock  = [project] dependencies          (the Dockerfile)
  run.lock   = dependencies + extra "embedded"  (make run)
  dev.lock   = dependencies + extra "dev"       (make test, CI)
  build.lock = [build-system] requires + pip    (every one of them, before the rest)
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "requirements"
REGENERATE = "make lock"
PYPROJECT: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT = canonicalize_name(PYPROJECT["project"]["name"])
# How uv (and pip-compile) annotate a package that pyproject.toml asks for by name.
DIRECT = f"{PROJECT} (pyproject.toml)"

# Lock file -> the optional extras of pyproject.toml it holds besides [project] dependencies.
PROJECT_LOCKS: dict[str, tuple[str, ...]] = {
    "base.lock": (),
    "run.lock": ("embedded",),
    "dev.lock": ("dev",),
}
# Each lock holds all of the previous one at the same versions: the image (base) runs what
# `make run` and CI install, and the Makefile's dev install stands in for the run install.
NESTED = [("base.lock", "run.lock"), ("run.lock", "dev.lock")]
ALL_LOCKS = [*PROJECT_LOCKS, "build.lock"]

PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[^=*\s;,]+$")
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")
COMMENT = re.compile(r"(^|\s+)#.*$")  # pip's own rule for comments in requirement files


def _environment(python: str, sys_platform: str, machine: str) -> dict[str, str]:
    system = {"linux": "Linux", "darwin": "Darwin"}[sys_platform]
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{python}.0",
        "os_name": "posix",
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": system,
        "platform_version": "",
        "python_full_version": f"{python}.0",
        "python_version": python,
        "sys_platform": sys_platform,
    }


# The locks are universal (solved for Python 3.11+ on every platform); these are the
# environments their markers are evaluated in: the image's (CPython 3.11, Linux x86_64) first,
# then arm Linux and a developer's Mac, on each Python the project allows.
ENVIRONMENTS = [
    _environment(python, sys_platform, machine)
    for python in ("3.11", "3.12", "3.13")
    for sys_platform, machine in (("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "arm64"))
]


@dataclass(frozen=True)
class Pin:
    line: int
    requirement: Requirement
    hashes: tuple[str, ...]
    via: tuple[str, ...]

    @property
    def name(self) -> NormalizedName:
        return canonicalize_name(self.requirement.name)

    @property
    def version(self) -> Version:
        return Version(next(iter(self.requirement.specifier)).version)

    def applies(self, environment: dict[str, str]) -> bool:
        marker = self.requirement.marker
        return marker is None or marker.evaluate(environment)


@dataclass(frozen=True)
class Lock:
    name: str
    header: tuple[str, ...]
    pins: tuple[Pin, ...]

    def applying(self, name: NormalizedName, environment: dict[str, str]) -> list[Pin]:
        return [p for p in self.pins if p.name == name and p.applies(environment)]


def parse_lock(name: str, text: str) -> Lock:
    """Read a hashed lock as pip does (backslash continuations joined, `#` comments dropped),
    keeping the header comment and each entry's `# via` annotations. Anything that is not
    `name==version [; marker]` followed by sha256 hashes fails here, with its line number."""
    header: list[str] = []
    pins: list[Pin] = []
    logical: list[tuple[int, str]] = []  # (first physical line number, joined text)
    via: dict[int, list[str]] = {}
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") and not pending:
            if not logical:
                header.append(stripped)
            else:
                # uv's "# via" block (one name a line) or its one-line form (names, comma-separated)
                note = re.sub(r"^#\s*(via\b)?\s*", "", stripped)
                notes = [n.strip() for n in note.split(", ") if n.strip()]
                via.setdefault(logical[-1][0], []).extend(notes)
            continue
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        joined = COMMENT.sub("", " ".join(pending)).strip()
        pending = []
        if joined:
            logical.append((start, joined))
    assert not pending, f"{name}: ends inside a backslash continuation"

    for number, entry in logical:
        where = f"{name}:{number}"
        requirement, *options = re.split(r"\s+(?=--)", entry)
        assert not requirement.startswith("-"), f"{where}: an option, not a pin: {entry!r}"
        for option in options:
            assert HASH.match(option), f"{where}: not a sha256 hash: {option!r}"
        assert options, f"{where}: {requirement!r} has no --hash=sha256: (pip --require-hashes)"
        parsed = Requirement(requirement)
        exact = str(parsed.specifier)
        assert parsed.url is None and PIN.match(f"{parsed.name}{exact}"), (
            f"{where}: not pinned to one exact version: {requirement!r}"
        )
        pins.append(Pin(number, parsed, tuple(options), tuple(via.get(number, ()))))
    assert pins, f"{name}: no pins"
    return Lock(name, tuple(header), tuple(pins))


def load_lock(name: str) -> Lock:
    path = REQUIREMENTS / name
    assert path.is_file(), f"{path.relative_to(REPO)} is missing: run `{REGENERATE}`"
    return parse_lock(name, path.read_text())


def requirements_of(extras: tuple[str, ...]) -> list[Requirement]:
    listed = list(PYPROJECT["project"]["dependencies"])
    for extra in extras:
        listed += PYPROJECT["project"]["optional-dependencies"][extra]
    return [Requirement(r) for r in listed]


def mismatch(lock: Lock, requirement: Requirement, source: str) -> str | None:
    """Why `requirement` is not met by `lock`: in every environment where its own marker holds,
    exactly one pin of the lock must apply, at a version the requirement allows."""
    name = canonicalize_name(requirement.name)
    for environment in ENVIRONMENTS:
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        place = f"Python {environment['python_version']} on {environment['sys_platform']}"
        found = lock.applying(name, environment)
        if not found:
            return f"{requirement} ({source}) is not in {lock.name} for {place}"
        if len(found) > 1:
            return f"{name} is pinned {len(found)} times in {lock.name} for {place}"
        if not requirement.specifier.contains(found[0].version, prereleases=True):
            pinned = f"{lock.name}:{found[0].line} pins {found[0].requirement}"
            return f"{requirement} ({source}), but {pinned}"
    return None


def check_requirements_pinned(lock: Lock, wanted: list[Requirement], source: str) -> None:
    problems = [m for r in wanted if (m := mismatch(lock, r, source)) is not None]
    advice = f"pyproject.toml and {lock.name} disagree: run `{REGENERATE}` and commit both"
    assert not problems, "\n".join([*problems, advice])


@pytest.mark.parametrize("name", ALL_LOCKS)
def test_every_entry_is_an_exact_pin_with_sha256_hashes(name: str) -> None:
    lock = load_lock(name)  # parse_lock asserts the form of every entry
    for environment in ENVIRONMENTS:
        names = [p.name for p in lock.pins if p.applies(environment)]
        twice = sorted({n for n in names if names.count(n) > 1})
        assert not twice, f"{name}: pinned twice for {environment['python_version']}: {twice}"


@pytest.mark.parametrize("name", ALL_LOCKS)
def test_the_header_names_the_command_that_regenerates_it(name: str) -> None:
    lock = load_lock(name)
    assert any(line.removeprefix("#").strip() == REGENERATE for line in lock.header), lock.header
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^lock:", makefile, re.MULTILINE), "the Makefile has no `lock` target"
    assert f"-o requirements/{name}" in makefile, f"`{REGENERATE}` does not write {name}"


@pytest.mark.parametrize(("name", "extras"), PROJECT_LOCKS.items(), ids=list(PROJECT_LOCKS))
def test_every_requirement_of_pyproject_is_pinned_to_a_version_it_allows(
    name: str, extras: tuple[str, ...]
) -> None:
    source = " + ".join(["dependencies", *(f"[{e}]" for e in extras)])
    check_requirements_pinned(load_lock(name), requirements_of(extras), source)


@pytest.mark.parametrize(("name", "extras"), PROJECT_LOCKS.items(), ids=list(PROJECT_LOCKS))
def test_the_lock_asks_for_nothing_that_pyproject_no_longer_does(
    name: str, extras: tuple[str, ...]
) -> None:
    """A dependency removed from pyproject.toml (or moved to another extra) must leave the lock
    too: the packages the lock says pyproject asked for are exactly the ones it asks for."""
    wanted = {canonicalize_name(r.name) for r in requirements_of(extras)}
    lock = load_lock(name)
    claimed = {p.name for p in lock.pins if DIRECT in p.via}
    assert claimed, f"{name} has no `# via {DIRECT}` annotations: run `{REGENERATE}`"
    stale, missing = sorted(claimed - wanted), sorted(wanted - claimed)
    assert not stale and not missing, (
        f"{name}: locked for pyproject but no longer asked for: {stale}; asked for but not "
        f"locked as such: {missing}; run `{REGENERATE}`"
    )


@pytest.mark.parametrize(("smaller", "larger"), NESTED)
def test_each_lock_holds_the_previous_one_at_the_same_versions(smaller: str, larger: str) -> None:
    big = {(p.name, p.version): p.hashes for p in load_lock(larger).pins}
    differ = [
        f"{p.requirement} ({smaller}:{p.line})"
        for p in load_lock(smaller).pins
        if big.get((p.name, p.version)) != p.hashes
    ]
    assert not differ, f"not in {larger} with the same version and hashes: {differ}"


def test_the_build_lock_pins_the_build_backend_and_pip() -> None:
    lock = load_lock("build.lock")
    build = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    check_requirements_pinned(lock, [*build, Requirement("pip")], "[build-system] requires")


def test_no_install_bypasses_the_locks() -> None:
    """Every pip install or wheel in the Makefile, the Dockerfile and the scripts CI runs either
    reads a lock with --require-hashes, installs kura alone (--no-deps), installs only wheels
    built from a lock (--no-index), or is the lock tool's own throwaway venv."""
    files = [REPO / "Makefile", REPO / "Dockerfile", REPO / ".ci" / "run"]
    files += sorted((REPO / "scripts").glob("*.sh"))
    allowed = ("--require-hashes -r requirements/", "--no-deps", "--no-index", "$(LOCK_TOOLS)/")
    bypass = [
        f"{path.relative_to(REPO)}: {line.strip()}"
        for path in files
        for line in path.read_text().splitlines()
        if re.search(r"\bpip3? (install|wheel|download)\b", line)
        and not line.lstrip().startswith("#")
        and not any(a in line for a in allowed)
    ]
    assert not bypass, bypass
