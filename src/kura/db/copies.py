"""Names of a database's restore copies: `<name>_restore_<UTC stamp>` (a scratch database being
loaded) and `<name>_replaced_<UTC stamp>` (the live database a restore retired)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_STAMP = r"\d{14}"


def _base(live: str) -> str:
    return live[:40]  # PostgreSQL names stop at 63 bytes; the suffix needs 24


def scratch_name(live: str, now: datetime | None = None) -> str:
    return f"{_base(live)}_restore_{(now or datetime.now(UTC)):%Y%m%d%H%M%S}"


def retired_name(live: str, now: datetime | None = None) -> str:
    return f"{_base(live)}_replaced_{(now or datetime.now(UTC)):%Y%m%d%H%M%S}"


def is_scratch_of(live: str, name: str) -> bool:
    return re.fullmatch(re.escape(_base(live)) + "_restore_" + _STAMP, name) is not None


def is_retired_of(live: str, name: str) -> bool:
    return re.fullmatch(re.escape(_base(live)) + "_replaced_" + _STAMP, name) is not None


def is_copy_of(live: str, name: str) -> bool:
    return is_scratch_of(live, name) or is_retired_of(live, name)
