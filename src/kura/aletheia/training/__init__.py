"""Building the screen's classifier from the labelled corpus (needs the dev extras)."""
