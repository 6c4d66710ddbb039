"""Database access: URLs, the embedded server, the engine, sessions and migrations."""
