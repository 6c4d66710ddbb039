"""The therapist workspace in a real browser (headless Chromium driven by Playwright) against
`kura serve` with its worker: an invitation followed from the outbox, sign-in, a patient
added and booked, a session note written and signed, the patient signed up for WhatsApp
monitoring from their chart, a crisis in a signed WhatsApp message acknowledged from Today,
the briefing played, the record exported; the assistant's view; another practice's URL. Every
page is checked with axe-core (no serious or critical violation) and screenshotted into
test-artifacts/workspace/. Messages the server starts go to its outbox (no
Twilio account is configured, only the webhook's signing token); the crisis reply is the
webhook's own TwiML answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy.engine import URL
from twilio.request_validator import RequestValidator

from kura.db.urls import describe
from tests.backup_support import create_from_template, drop
from tests.browser_support import CHROMIUM_ARGS, REPO, find_chromium, watched_page
from tests.email_support import confirm_email_live, link_token, newest_mail_to
from tests.server_support import serving

ARTIFACTS = REPO / "test-artifacts" / "workspace"
AXE = REPO / ".venv-tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
OWNER = ("duena@example.org", "propietaria-segura-2026", "Lucía Terapeuta")
SLOT = "10:00\N{EN DASH}10:50"
BOOKING_DAY = date.today() + timedelta(days=8)  # a day ahead, whatever today is
NOTE = "Primera sesión: duerme mal desde el cambio de trabajo; acordamos registro de sueño."
CRISIS = "ya no quiero vivir, esta noche lo hago"
PATIENT_PHONE = "+34622000111"
WHATSAPP = ("twilio-e2e-auth-token-0123456789", "+34911000000", "/api/v1/webhooks/whatsapp")
pytestmark = pytest.mark.timeout(300)


@dataclass
class Practice:
    base: str
    data_dir: Path
    owner_token: str

    def post(self, path: str, body: dict[str, object]) -> httpx.Response:
        """The owner's API call."""
        headers = {"Authorization": f"Bearer {self.owner_token}"}
        return httpx.post(f"{self.base}{path}", headers=headers, json=body, timeout=30)

    def mail_link(self, address: str, page: str) -> str:
        """The newest emailed link to `page` for `address` (the worker sends it)."""
        for _ in range(150):
            message = newest_mail_to(self.data_dir / "outbox" / "email", address)
            if message is not None:
                return f"{self.base}/app/{page}?token={link_token(message, page)}"
            time.sleep(0.2)
        raise AssertionError(f"no mail to {address}")

    def whatsapp_from_patient(self, body: str) -> str:
        """A WhatsApp message from the patient, signed as Twilio signs it; the reply (TwiML)."""
        token, shared, path = WHATSAPP
        params = {
            "MessageSid": f"SM{time.time_ns():032d}"[:34],
            "AccountSid": "AC" + "0" * 32,
            "From": f"whatsapp:{PATIENT_PHONE}",
            "To": f"whatsapp:{shared}",
            "Body": body,
            "NumMedia": "0",
        }
        signature = RequestValidator(token).compute_signature(f"{self.base}{path}", params)
        answer = httpx.post(
            f"{self.base}{path}", data=params, headers={"X-Twilio-Signature": signature}
        )
        assert answer.status_code == 200, answer.text
        return answer.text

    def invite(self, email: str, name: str, role: str) -> str:
        added = self.post("/api/v1/staff", {"email": email, "full_name": name, "role": role})
        assert added.status_code == 201, added.text
        return self.mail_link(email, "accept-invite")


def register(base: str, data_dir: Path, email: str, password: str, name: str, org: str) -> str:
    registered = httpx.post(
        f"{base}/api/v1/auth/register",
        json={"email": email, "password": password, "full_name": name, "org_name": org},
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    confirm_email_live(base, data_dir, email)
    return str(registered.json()["access_token"])


@pytest.fixture(scope="module")
def practice(
    db_url: URL, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Practice]:
    url = create_from_template(db_url, "kura_workspace_e2e", template_db)
    data = tmp_path_factory.mktemp("workspace") / "kura"
    env = {
        "DATABASE_URL": describe(url, show_password=True),
        "PUBLIC_BASE_URL": "__BASE__",
        "TWILIO_AUTH_TOKEN": WHATSAPP[0],
        "TWILIO_WHATSAPP_NUMBER": WHATSAPP[1],
    }
    try:
        with serving(data, strict=True, **env) as base:
            token = register(base, data, *OWNER, "Consulta Lucía")
            practice = Practice(base, data, token)
            service = {"name": "Sesión individual", "duration_minutes": 50, "price_cents": 0}
            assert practice.post("/api/v1/services", service).status_code == 201
            yield practice
    finally:
        drop(url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = find_chromium()
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed ({AXE}): `make pytest` installs it with npm")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with watched_page(browser, viewport={"width": 1280, "height": 800}, locale="es-ES") as opened:
        yield opened


def check(page: Page, name: str) -> None:
    """No serious or critical accessibility violation (axe-core, WCAG 2 A/AA), then a shot."""
    page.evaluate(AXE.read_text() + "\n;0")  # DevTools evaluation: not subject to the CSP
    found = page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']}))
            .violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
    )
    assert found == [], f"{name}: {found}"
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def accept_invitation(page: Page, link: str, password: str) -> None:
    page.goto(link)
    expect(page.get_by_role("heading", name="Aceptar la invitación")).to_be_visible()
    page.get_by_label("Contraseña nueva").fill(password)
    page.get_by_label("Repite la contraseña").fill(password)
    page.get_by_role("button", name="Aceptar y guardar").click()
    expect(page.get_by_role("status")).to_contain_text("Contraseña guardada")


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/app")
    page.get_by_label("Correo").fill(email)
    page.get_by_label("Contraseña").fill(password)
    page.get_by_role("button", name="Entrar").click()


def test_a_therapists_day_from_the_browser(practice: Practice, page: Page) -> None:
    base, password = practice.base, "bosque-azul-tranquilo-26"
    link = practice.invite("terapeuta@example.org", "Marta Terapeuta", "THERAPIST")
    page.goto(link)
    check(page, "01-accept-invitation")
    accept_invitation(page, link, password)
    check(page, "02-sign-in")
    sign_in(page, base, "terapeuta@example.org", password)
    expect(page.get_by_role("heading", name="Hola, Marta Terapeuta")).to_be_visible()
    page.keyboard.press("Tab")  # keyboard users reach the skip link first
    expect(page.get_by_role("link", name="Saltar al contenido")).to_be_focused()
    check(page, "03-today")

    page.get_by_role("navigation").get_by_role("link", name="Pacientes").click()
    page.get_by_role("link", name="Añadir paciente").click()
    page.get_by_label("Nombre completo").fill("Nuria Gómez")
    page.get_by_label("Móvil").fill("12")
    page.get_by_label("Correo electrónico").fill("nuria@example.org")
    page.get_by_role("button", name="Guardar").click()
    expect(page.locator("#phone-error")).to_be_visible()  # refused beside its field
    check(page, "04-patient-form-error")
    page.get_by_label("Móvil").fill("+34 622 000 111")
    page.get_by_role("button", name="Guardar").click()
    expect(page.get_by_role("heading", name="Nuria Gómez")).to_be_visible()

    page.get_by_label("Fecha").fill(BOOKING_DAY.isoformat())
    page.get_by_label("Hora").fill("10:00")
    page.get_by_role("button", name="Reservar", exact=True).click()
    expect(page.get_by_role("heading", name="Reserva")).to_be_visible()
    expect(page.get_by_text(f"{BOOKING_DAY.isoformat()} 10:00")).to_be_visible()
    check(page, "05a-booking")
    page.get_by_role("link", name="Volver a esa semana").click()
    expect(page.get_by_role("link", name=SLOT)).to_be_visible()
    check(page, "05b-agenda")
    page.get_by_role("link", name=SLOT).click()
    page.get_by_role("link", name="Nuria Gómez").click()

    page.get_by_label("Nota nueva").fill(NOTE)
    page.get_by_role("button", name="Guardar el borrador").click()
    expect(page.get_by_text(NOTE)).to_be_visible()
    page.get_by_role("button", name="Firmar").click()
    expect(page.locator(".meta").filter(has_text="Firmada")).to_be_visible()
    check(page, "05c-chart")

    page.get_by_role("link", name="Seguimiento por WhatsApp").click()
    page.get_by_role("button", name="Crear un código de alta").click()
    code = page.locator("p.code code").inner_text()
    check(page, "05d-monitoring-code")
    practice.whatsapp_from_patient(code)  # the patient sends the code from their phone
    assert "112" in practice.whatsapp_from_patient(CRISIS)  # emergency numbers, at once

    page.get_by_role("navigation").get_by_role("link", name="Pacientes").click()
    page.get_by_label("Buscar").fill("gomez")  # no accent typed
    page.get_by_role("button", name="Buscar").click()
    expect(page.get_by_role("link", name="Nuria Gómez")).to_be_visible()
    check(page, "06-patients")

    page.get_by_role("navigation").get_by_role("link", name="Hoy").click()
    card = page.locator(".card.risk").filter(has_text="Nuria Gómez")
    for _ in range(50):  # AletheIA reads the message as it arrives; the page is not live
        if card.count():
            break
        time.sleep(0.2)
        page.reload()
    expect(card).to_be_visible()  # the WhatsApp crisis flagged for a human
    check(page, "07-today-alert")
    card.get_by_role("button", name="La he visto").click()
    expect(page.get_by_text("No hay alertas de riesgo abiertas.")).to_be_visible()

    page.get_by_role("button", name="Preparar mi resumen").click()
    audio = page.locator("audio")
    expect(audio).to_be_visible()
    duration = audio.evaluate(
        """a => new Promise((ok, fail) => {
            if (a.readyState >= 1) return ok(a.duration);
            a.addEventListener('loadedmetadata', () => ok(a.duration));
            a.addEventListener('error', () => fail(String(a.error && a.error.code)));
            a.load();
        })"""
    )
    assert duration > 1  # the browser decoded the MP3 (seconds of speech)
    check(page, "08-today-briefing")

    page.get_by_role("navigation").get_by_role("link", name="Pacientes").click()
    page.get_by_role("link", name="Nuria Gómez").click()
    page.get_by_role("button", name="Exportar la historia (ZIP con PDF)").click()
    expect(page.get_by_role("heading", name="Exportaciones")).to_be_visible()
    download_link = page.get_by_role("link", name="Descargar")
    for _ in range(100):  # the worker builds it; the page refreshes itself every 3 s
        if download_link.count():
            break
        time.sleep(0.2)
    expect(download_link).to_be_visible()
    check(page, "08b-exports")
    with page.expect_download() as download:
        download_link.click()
    assert download.value.suggested_filename.endswith(".zip")

    page.get_by_role("navigation").get_by_role("link", name="Hoy").click()
    page.get_by_role("link", name="EN", exact=True).click()
    expect(page.get_by_role("heading", name="Hello, Marta Terapeuta")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    check(page, "09-today-phone-en")


def test_an_assistant_sees_contacts_but_no_clinical_content(practice: Practice, page: Page) -> None:
    made = practice.post("/api/v1/patients", {"full_name": "Pedro Alonso"})
    assert made.status_code == 201, made.text
    password = "montana-verde-clara-31"
    accept_invitation(
        page, practice.invite("asistente@example.org", "Ana Asistente", "ASSISTANT"), password
    )
    sign_in(page, practice.base, "asistente@example.org", password)
    expect(page.get_by_role("heading", name="Hola, Ana Asistente")).to_be_visible()
    expect(page.get_by_role("navigation").get_by_role("link", name="Alertas")).to_have_count(0)
    page.get_by_role("navigation").get_by_role("link", name="Pacientes").click()
    page.get_by_role("link", name="Pedro Alonso").click()
    expect(page.get_by_role("heading", name="Pedro Alonso")).to_be_visible()
    expect(page.get_by_text("Notas clínicas")).to_have_count(0)
    check(page, "10-assistant-chart")
    page.goto(f"{practice.base}/app/alerts")
    expect(page.get_by_text("Solo terapeutas y titulares")).to_be_visible()


def test_another_practices_patient_url_is_not_found(practice: Practice, page: Page) -> None:
    made = practice.post("/api/v1/patients", {"full_name": "Irene Campos"})
    chart = f"{practice.base}/app/patients/{made.json()['id']}"
    register(
        practice.base,
        practice.data_dir,
        "otra@example.org",
        "rio-sereno-profundo-44",
        "Otra",
        "Otra Consulta",
    )
    sign_in(page, practice.base, "otra@example.org", "rio-sereno-profundo-44")
    response = page.goto(chart)
    assert response is not None and response.status == 404
    expect(page.get_by_text("Irene Campos")).to_have_count(0)
    check(page, "11-not-found")


def test_the_owners_settings_pages_are_accessible(practice: Practice, page: Page) -> None:
    made = practice.post("/api/v1/patients", {"full_name": "Teresa Prat", "phone": "+34633000111"})
    assert made.status_code == 201, made.text
    sign_in(page, practice.base, OWNER[0], OWNER[1])
    expect(page.get_by_role("heading", name=f"Hola, {OWNER[2]}")).to_be_visible()
    page.get_by_role("navigation").get_by_role("link", name="Ajustes").click()
    expect(page.get_by_role("heading", name="Equipo")).to_be_visible()
    check(page, "12-team")
    for link, heading, name in (
        ("Consulta", "Consulta", "12b-practice"),
        ("Servicios", "Servicios", "13-services"),
        ("Horario", f"Horario: {OWNER[2]}", "14-hours"),
        ("Facturación", "Facturación", "15-billing"),
    ):
        page.get_by_role("navigation", name="Ajustes").get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        check(page, name)
    page.get_by_role("link", name=OWNER[2]).click()
    expect(page.get_by_role("heading", name="Tu cuenta")).to_be_visible()
    check(page, "16-account")
    page.goto(f"{practice.base}/app/patients/{made.json()['id']}/monitoring")
    page.get_by_role("button", name="Crear un código de alta").click()
    expect(page.locator(".code")).to_contain_text("KURA-")
    check(page, "17-monitoring-code")
    page.goto(f"{practice.base}/app/patients/{made.json()['id']}")
    page.get_by_label("Entiendo que la historia se borrará").check()
    page.get_by_role("button", name="Dar de baja al paciente").click()
    expect(page.get_by_role("button", name="Deshacer la baja")).to_be_visible()
    check(page, "18-chart-deleted")
    page.get_by_role("button", name="Deshacer la baja").click()
    expect(page.get_by_role("button", name="Dar de baja al paciente")).to_be_visible()
    check(page, "18b-chart-owner")
