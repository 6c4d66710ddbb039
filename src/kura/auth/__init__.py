"""Authentication: passwords, Google sign-in, revocable sessions, abuse resistance."""
