"""Back-office screens (placeholder until built)."""
