"""Operations: health, readiness and (later) the operator's status."""
