"""The REST interface (django-ninja). Mirrors the apps; calls their services and selectors only."""
