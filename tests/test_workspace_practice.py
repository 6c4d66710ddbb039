"""The practice's details from the workspace: invoicing (a bad tax id refused beside its
field) and the WhatsApp texts, which the bot adds after the emergency numbers."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from kura.config import Settings
from kura.invoices.models import InvoiceProfile
from kura.monitoring.replies import acknowledgement
from kura.orgs.models import Organization
from kura.users.models import Role
from tests.factories import Member, make_staff
from tests.workspace_support import hidden, sign_in

PRACTICE = "/app/settings/practice"


async def test_the_owner_sets_invoicing_and_the_whatsapp_texts(
    client: AsyncClient, owner: Member, session: AsyncSession
) -> None:
    await session.commit()
    await sign_in(client, owner.user.email)
    page = await client.get(PRACTICE)
    assert page.status_code == 200 and "Razón social" in page.text
    csrf = hidden(page.text, "csrf_token")
    bad = await client.post(
        f"{PRACTICE}/invoicing",
        data={"csrf_token": csrf, "legal_name": "Consulta Mar SL", "tax_id": "B1"},
    )
    assert bad.status_code == 422 and 'id="tax_id-error"' in bad.text
    assert 'value="Consulta Mar SL"' in bad.text
    saved = await client.post(
        f"{PRACTICE}/invoicing",
        data={
            "csrf_token": csrf,
            "legal_name": "Consulta Mar SL",
            "tax_id": "b12345678",
            "address": "Calle Mayor 1, Madrid",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{PRACTICE}?saved=1"
    profile = await session.get_one(InvoiceProfile, owner.organization.id)
    await session.refresh(profile)
    assert (profile.legal_name, profile.tax_id) == ("Consulta Mar SL", "B12345678")
    assert "20.Uno.3º" in profile.vat_note  # the healthcare exemption stays by default

    texts = await client.post(
        f"{PRACTICE}/monitoring",
        data={
            "csrf_token": csrf,
            "monitoring_ack_message": "Gracias, Mar lo leerá esta tarde.",
            "crisis_resources": "Consulta: 910 000 000",
        },
    )
    assert texts.status_code == 303
    organization = await session.get_one(Organization, owner.organization.id)
    await session.refresh(organization)
    reply = acknowledgement(
        "es",
        custom=organization.monitoring_ack_message,
        resources=organization.crisis_resources,
    )
    assert reply.startswith("Gracias, Mar lo leerá esta tarde.") and "112" in reply
    assert "910 000 000" in reply


async def test_only_the_owner_changes_the_practice(
    client: AsyncClient, owner: Member, session: AsyncSession, settings: Settings
) -> None:
    therapist = await make_staff(session, settings, owner.organization, Role.THERAPIST)
    await session.commit()
    await sign_in(client, therapist.user.email)
    assert (await client.get(PRACTICE)).status_code == 403
    csrf = hidden((await client.get("/app")).text, "csrf_token")
    refused = await client.post(
        f"{PRACTICE}/monitoring", data={"csrf_token": csrf, "crisis_resources": "x"}
    )
    assert refused.status_code == 403
