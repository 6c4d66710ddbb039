"""Stripe: patient payments for bookings, the practice's subscription, verified webhooks."""
