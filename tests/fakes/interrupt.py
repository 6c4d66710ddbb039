"""Interrupting a script at its Nth call to a fake (gcloud or curl), shared by both fakes.

FAKE_INTERRUPT_AT=N makes the Nth call (counted across gcloud and curl) fail like a dropped
connection; FAKE_INTERRUPT_MODE says when: "before" (the request never reached Google) or
"after" (Google applied it, the answer was lost: the caller sees an error all the same).
"""

import os
from pathlib import Path


def mode() -> str | None:
    """ "before"/"after" when this call is the one to interrupt, else None."""
    at = int(os.environ.get("FAKE_INTERRUPT_AT", "0") or 0)
    state = os.environ.get("FAKE_GCLOUD_STATE")
    if not at or not state:
        return None
    counter = Path(state + ".calls")
    calls = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    return os.environ.get("FAKE_INTERRUPT_MODE", "before") if calls == at else None
