"""Money as a person reads it: the reporting currency's symbol and the reader's number format.

Leadmill keeps every amount (spend, a won lead's value) in one currency,
``LEADMILL_REPORTING_CURRENCY``; a screen shows it as "$4,800.00" to an English reader and
"R$ 4.800,00" to a Brazilian one.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.utils import formats, translation

# The symbols people write; a currency not listed shows its ISO code ("CHF 4,800.00").
SYMBOLS = {
    "USD": "$",
    "BRL": "R$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CAD": "CA$",
    "AUD": "A$",
    "MXN": "MX$",
    "INR": "₹",
}


def money_format(amount: Decimal | int | float | None, currency: str | None = None) -> str:
    """``amount`` with its currency in the active language's format; "" for no amount.

    English (and any language but Portuguese) writes the symbol against the number
    ("$4,800.00"); Portuguese leaves a space ("R$ 4.800,00"), as does an ISO code.
    """
    if amount is None or amount == "":
        return ""
    code = (currency or settings.LEADMILL_REPORTING_CURRENCY).upper()
    number = formats.number_format(Decimal(amount), 2, use_l10n=True, force_grouping=True)
    symbol = SYMBOLS.get(code)
    language = translation.get_language() or settings.LANGUAGE_CODE
    if symbol is None or language.lower().startswith("pt"):
        return f"{symbol or code}\N{NO-BREAK SPACE}{number}"
    if number.startswith("-"):
        return f"-{symbol}{number[1:]}"
    return f"{symbol}{number}"
