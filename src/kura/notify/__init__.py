"""Outgoing messages: email through Brevo, or an outbox of .eml files when offline."""
