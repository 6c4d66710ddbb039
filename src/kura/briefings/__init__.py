"""The AI daily briefing: the therapist's morning summary, written and spoken."""
