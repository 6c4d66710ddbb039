"""Users: staff of one organization (OWNER, THERAPIST, ASSISTANT) and platform superusers."""
