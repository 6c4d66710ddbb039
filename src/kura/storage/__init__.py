"""Blob storage for backups (and later briefing audio): a local directory or a GCS bucket."""
