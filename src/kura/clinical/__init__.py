"""Clinical notes: what OWNERs and THERAPISTs write about a patient. Never for ASSISTANTs."""
