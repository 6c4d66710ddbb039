"""AletheIA: risk screening and conversation analysis. It flags for a human; it never
diagnoses and never clears a risk on its own."""
