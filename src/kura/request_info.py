"""Facts about the caller that several domains need (client IP behind Cloud Run's proxy)."""

from __future__ import annotations

import ipaddress

from fastapi import Request


def client_ip(request: Request) -> str | None:
    """The caller's IP. With TRUSTED_PROXY_HOPS=n, the n-th address from the right of
    X-Forwarded-For (each trusted proxy appends one); a client cannot forge what the
    proxies append, only what comes before it."""
    hops: int = request.app.state.settings.trusted_proxy_hops
    candidate = request.client.host if request.client else None
    if hops:
        forwarded = [p.strip() for p in request.headers.get("x-forwarded-for", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
    if candidate is None:
        return None
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
