"""The public form's Django classes: the one that renders and the one that only validates."""

import pytest

from ..forms import lead_form_class, validation_form_class
from .factories import form_with_fields

pytestmark = pytest.mark.django_db


def test_a_validation_form_shares_its_fields_and_still_validates():
    form = form_with_fields()
    form_class = lead_form_class(form)
    validation_class = validation_form_class(form_class)

    first, second = (
        validation_class(data={"email": "x"}),
        validation_class(data={"email": " Ana@Example.COM "}),
    )

    assert first.fields["email"] is second.fields["email"] is form_class.base_fields["email"]
    assert (
        form_class().fields["email"] is not form_class.base_fields["email"]
    )  # rendering keeps its own copies
    assert not first.is_valid() and "email" in first.errors
    assert second.is_valid() and second.cleaned_data["email"] == "ana@example.com"
