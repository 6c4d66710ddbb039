"""A platform operator of a server running in its own process: enrolled in two-step
verification over HTTP like a person would, then signed in with a recovery code each time
(a TOTP step is accepted once, and tests sign in faster than every 30 s)."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pyotp


@dataclass
class Operator:
    """One operator account of one database; `base` is whichever server serves it now."""

    email: str
    password: str
    secret: str | None = None
    recovery_codes: list[str] = field(default_factory=list)

    def headers(self, base: str) -> dict[str, str]:
        """A fresh session that passed two-step verification just now (step-up included)."""

        def post(path: str, token: str | None = None, **body: object) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return httpx.post(f"{base}{path}", json=body or None, headers=headers, timeout=30)

        login = post("/api/v1/auth/login", email=self.email, password=self.password)
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        if self.secret is None:  # the first sign-in: set it up, confirming verifies it
            setup = post("/api/v1/auth/mfa/setup", token)
            assert setup.status_code == 200, setup.text
            self.secret = setup.json()["secret"]
            confirm = post("/api/v1/auth/mfa/confirm", token, code=pyotp.TOTP(self.secret).now())
            assert confirm.status_code == 200, confirm.text
            self.recovery_codes = list(confirm.json()["recovery_codes"])
            return {"Authorization": f"Bearer {token}"}
        verified = post("/api/v1/auth/mfa/verify", token, code=self.recovery_codes.pop())
        assert verified.status_code == 200, verified.text
        return {"Authorization": f"Bearer {verified.json()['access_token']}"}

    def token(self, base: str) -> str:
        return self.headers(base)["Authorization"].removeprefix("Bearer ")
