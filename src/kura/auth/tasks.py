"""Auth jobs: emailing password links outside the request (no timing oracle, retried)."""

from __future__ import annotations

import uuid

import procrastinate

from kura.auth.password_links import deliver_password_link

blueprint = procrastinate.Blueprint()


@blueprint.task(
    name="send_password_link",
    pass_context=True,
    queue="email",
    retry=procrastinate.RetryStrategy(max_attempts=6, exponential_wait=5),
)
async def send_password_link(context: procrastinate.JobContext, token_id: str) -> None:
    """Email a reset or invitation link; the token itself is derived here, never stored."""
    extra = context.additional_context
    await deliver_password_link(extra["database"], extra["settings"], uuid.UUID(token_id))
