"""Consent: purposes (subscription types) with versioned texts, the append-only consent
ledger with its proof, and the suppression list. Depends on core and contacts."""
