"""Core support for the AI providers: one Gemini client factory and pseudonymization."""
