"""How `kura serve` runs uvicorn: no proxy-header rewriting, bounded idle and header time.

X-Forwarded-For is interpreted in one place only (kura.request_info.client_ip, governed by
TRUSTED_PROXY_HOPS); uvicorn's own rewriting would trust it from any loopback peer. uvicorn
has no timeout for a request whose headers never finish (slowloris), so the protocol below
closes a connection that has not completed a request's headers within
REQUEST_HEADER_TIMEOUT_SECONDS (default 10).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from kura.config import Settings

KEEP_ALIVE_SECONDS = 5


class HeaderTimeoutProtocol(H11Protocol):
    """h11 with a deadline for each request's headers (armed on connect and after a reply)."""

    header_timeout = 10.0

    # asyncio.Protocol types the argument as BaseTransport; uvicorn narrows it the same way.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        self.loop.call_later(self.header_timeout, self._close_if_stalled, self.cycle)

    def _close_if_stalled(self, cycle_at_arming: Any) -> None:
        # A new request's headers create a new cycle; the same one means none arrived in time.
        if self.cycle is cycle_at_arming and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    protocol = type(
        "KuraHTTP",
        (HeaderTimeoutProtocol,),
        {"header_timeout": settings.request_header_timeout_seconds},
    )
    return {
        "http": protocol,
        "proxy_headers": False,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "timeout_graceful_shutdown": 20,
    }
