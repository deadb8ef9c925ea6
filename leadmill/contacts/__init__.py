"""Contacts: people (leads), companies, identity (normalisation, dedupe, merge), lifecycle
stage history and outcomes. Depends only on core."""
