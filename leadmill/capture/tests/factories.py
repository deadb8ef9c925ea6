"""Factories for capture tests (and for other apps' tests that need a form)."""

import factory

from leadmill.consent.services import purpose_ensure

from ..models import FieldKind, Form, FormConsent, FormField, Offer


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer

    name = factory.Sequence(lambda n: f"Offer {n}")
    kind = Offer.Kind.DOWNLOAD


class FormFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Form

    name = factory.Sequence(lambda n: f"Form {n}")
    slug = factory.Sequence(lambda n: f"form-{n}")


def form_with_fields(
    *,
    slug: str = "ebook",
    offer: Offer | None = None,
    phone: bool = False,
    allowed_origins: str = "",
    marketing_consent: bool = True,
) -> Form:
    """A form asking email and first name (and phone), with an email-marketing checkbox."""
    form = FormFactory(slug=slug, offer=offer, allowed_origins=allowed_origins)
    FormField.objects.create(form=form, kind=FieldKind.EMAIL, required=True, sort_order=0)
    FormField.objects.create(form=form, kind=FieldKind.FIRST_NAME, sort_order=1)
    if phone:
        FormField.objects.create(form=form, kind=FieldKind.PHONE, sort_order=2)
    if marketing_consent:
        purpose = purpose_ensure(
            key="email-marketing",
            name="Marketing email",
            text="Yes, send me marketing emails. I can unsubscribe at any time.",
            is_email_marketing=True,
        )
        FormConsent.objects.create(form=form, purpose=purpose, sort_order=0)
    return form
