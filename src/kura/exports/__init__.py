"""Patient and practice exports: a job builds a ZIP (JSON per part, a PDF, a manifest)."""
