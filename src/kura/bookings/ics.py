"""Bookings as iCalendar (RFC 5545, written by the icalendar library): the event attached to a
patient's confirmation, change and cancellation emails, and a therapist's private feed.

One UID per booking, so a calendar updates its event in place; SEQUENCE grows with every change
(the booking's updated_at), as RFC 5546 asks for an update to replace the previous copy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kura.bookings.models import Booking, BookingStatus

PRODID = "-//KURA OS//Bookings//ES"
_STATUS = {
    BookingStatus.PENDING: "TENTATIVE",
    BookingStatus.CONFIRMED: "CONFIRMED",
    BookingStatus.COMPLETED: "CONFIRMED",
    BookingStatus.CANCELLED: "CANCELLED",
}


@dataclass(frozen=True)
class CalendarEntry:
    booking: Booking
    summary: str  # what the calendar shows: never more than the recipient may see
    description: str = ""


def uid(booking: Booking) -> str:
    return f"booking-{booking.id}@kura-os"


def _sequence(booking: Booking) -> int:
    return max(0, int(booking.updated_at.timestamp()) - 1_700_000_000)


def calendar(entries: Iterable[CalendarEntry], *, method: str | None, name: str | None) -> bytes:
    """A VCALENDAR of these bookings. `method`: REQUEST/CANCEL for an email, None for a feed."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    for entry in entries:
        booking = entry.booking
        event = Event()
        event.add("uid", uid(booking))
        event.add("dtstamp", booking.updated_at)
        event.add("dtstart", booking.starts_at)
        event.add("dtend", booking.ends_at)
        event.add("summary", entry.summary)
        if entry.description:
            event.add("description", entry.description)
        event.add("status", _STATUS[booking.status])
        event.add("sequence", _sequence(booking))
        cal.add_component(event)
    return bytes(cal.to_ical())


def patient_invite(booking: Booking, service_name: str, practice_name: str) -> bytes:
    """The event a patient's email carries: METHOD:PUBLISH ("add to calendar"; REQUEST and
    CANCEL would need an ORGANIZER mailbox that answers), the same UID every time, so a
    moved or cancelled booking updates the copy already in the patient's calendar."""
    entry = CalendarEntry(booking, f"{service_name} · {practice_name}")
    return calendar([entry], method="PUBLISH", name=None)
