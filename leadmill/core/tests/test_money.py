"""A value reads with its currency, in the reader's number format."""

from decimal import Decimal

import pytest
from django.utils import translation

from ..money import money_format

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "currency", "expected"),
    [
        ("en", "USD", "$4,800.00"),
        ("pt-br", "BRL", "R$\u00a04.800,00"),
        ("pt-br", "USD", "$\u00a04.800,00"),
        ("en", "BRL", "R$4,800.00"),
        ("en", "CHF", "CHF\u00a04,800.00"),
    ],
)
def test_a_value_shows_with_its_currency_per_language(language, currency, expected):
    with translation.override(language):
        assert money_format(Decimal("4800"), currency) == expected


def test_the_reporting_currency_is_the_default_and_no_amount_is_empty(settings):
    settings.LEADMILL_REPORTING_CURRENCY = "brl"
    with translation.override("en"):
        assert money_format(Decimal("-12.5")) == "-R$12.50"
        assert money_format(None) == ""
