"""Back-office screens of capture: offers, forms, CTAs and submissions."""

from wagtail.snippets.models import register_snippet

from .models import CallToAction, Form, Offer

register_snippet(Offer)
register_snippet(Form)
register_snippet(CallToAction)
