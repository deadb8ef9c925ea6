"""Capture: offers (lead magnets), landing pages (Wagtail), forms, CTAs, submissions and
their spam defences. Every page and embed posts to ``/f/<form-slug>/``, handled by
:func:`.services.submission_receive`. Depends on core, contacts, consent and messaging."""
