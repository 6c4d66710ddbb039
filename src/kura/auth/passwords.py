"""Password hashing (Argon2, bcrypt accepted and upgraded) and password policy."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from kura.errors import BadRequest

_T = TypeVar("_T")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128

# Passwords of 10+ characters that lead every breach list, and the words such passwords are
# built from; "Password2024!" is rejected because its core is "password".
_COMMON_EXACT = frozenset(
    [
        "1234567890",
        "0123456789",
        "0987654321",
        "1111111111",
        "0000000000",
        "1234512345",
        "1122334455",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "qwertyuiop",
        "qwerty1234",
        "qwerty12345",
        "qwerty123456",
        "asdfghjkl1",
        "asdfghjkl;",
        "zxcvbnm123",
        "password12",
        "password123",
        "password1!",
        "passw0rd12",
        "iloveyou12",
        "iloveyou123",
        "abcdefghij",
        "abcd123456",
        "123456789a",
        "a123456789",
        "123123123123",
        "987654321a",
        "1234567890a",
        "qazwsxedcr",
        "qazwsxedc1",
        "1q2w3e4r5t6y",
        "aaaaaaaaaa",
        "princess12",
        "football12",
        "baseball12",
        "superman12",
        "starwars12",
        "trustno123",
        "letmein123",
        "welcome123",
        "sunshine12",
        "dragon1234",
        "monkey1234",
        "master1234",
        "shadow1234",
        "michael123",
        "jennifer12",
    ]
)
_COMMON_CORES = (
    "password",
    "passw0rd",
    "contrasena",
    "contraseña",
    "qwerty",
    "iloveyou",
    "teamo",
    "welcome",
    "bienvenido",
    "letmein",
    "admin",
    "kuraos",
    "123456",
    "abc123",
)
_DECORATION = re.compile(r"^[\W\d_]*(.*?)[\W\d_]*$")


class PasswordPolicyError(BadRequest):
    """The password is too weak; the message says why."""

    code = "weak_password"


def check_password_policy(password: str, *, email: str | None = None) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters.")
    lowered = password.lower()
    core = _DECORATION.sub(r"\1", lowered)
    if lowered in _COMMON_EXACT or len(set(lowered)) <= 2 or core in _COMMON_CORES:
        raise PasswordPolicyError("This password is too common. Choose a less predictable one.")
    if email:
        local = email.split("@", 1)[0].lower()
        if len(local) >= 4 and local in lowered:
            raise PasswordPolicyError("The password must not contain your email address.")


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    # First hasher hashes; the others only verify (and trigger an upgrade).
    return PasswordHash((Argon2Hasher(), BcryptHasher()))


# Argon2 takes ~50 ms of CPU per call and releases the GIL: it runs in its own threads so the
# event loop keeps answering, at most this many at once so a login burst queues instead of
# starving every other request of CPU. Those threads run at the lowest CPU priority (Linux
# niceness applies per thread): when cores are short, the loop and the database go first and
# a login waits a little longer — the trade a health check and a busy agenda want.
HASHING_CONCURRENCY = max(1, (os.cpu_count() or 1) - 1)  # leave a core for the loop
HASHING_NICENESS = 19


def _lower_own_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not permitted: as is
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


_executor = ThreadPoolExecutor(
    max_workers=HASHING_CONCURRENCY,
    thread_name_prefix="kura-hashing",
    initializer=_lower_own_priority,
)


async def _off_loop(function: Callable[..., _T], *args: object) -> _T:
    # The pool's queue is the bound: a burst waits there, never in the loop's default pool.
    return await asyncio.get_running_loop().run_in_executor(_executor, function, *args)


def hash_password_sync(password: str) -> str:
    """For command-line tools and fixtures; request paths use `hash_password`."""
    return _hasher().hash(password)


async def hash_password(password: str) -> str:
    return await _off_loop(hash_password_sync, password)


def _verify(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    if stored_hash is None:
        _hasher().verify(password, _dummy_hash())  # same work as a real check
        return False, None
    try:
        return _hasher().verify_and_update(password, stored_hash)
    except Exception:  # an unknown or corrupt hash is a failed login, never a 500
        return False, None


async def verify_password(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash when the stored one should be upgraded to Argon2)."""
    return await _off_loop(_verify, password, stored_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("kura-dummy-password-for-timing")


async def burn_verification_time(password: str) -> None:
    """Verify against a dummy hash so unknown emails cost as much as wrong passwords."""
    await _off_loop(_verify, password, None)
