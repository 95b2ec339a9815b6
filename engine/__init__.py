"""Eligibility rules engine: load → validate → compile → evaluate → explain → render."""
