"""A country as a person typed it, read as an ISO 3166-1 alpha-2 code.

Forms, imports and the API hand in what people write: "Portugal", "brasil", "Alemanha",
"DEU", "pt", "Estados Unidos". :func:`country_code` reads it against pycountry's ISO 3166-1
list: the alpha-2 and alpha-3 codes, the English names (short, official and common) and
their Portuguese (Portugal and Brazil) translations, plus a few everyday names no
standard lists (:data:`ALIASES`). Case, accents, punctuation and extra spaces do not matter.
What cannot be read is left to the caller, which keeps it as written
(``Contact.country_as_written``), never cut to two letters.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from functools import cache

import pycountry

# Everyday names and codes that are not ISO 3166-1 names, folded (see _fold).
ALIASES = {
    "uk": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "great britain": "GB",
    "gra bretanha": "GB",
    "inglaterra": "GB",
    "eua": "US",
    "america": "US",
    "holanda": "NL",
    "holland": "NL",
    "russia": "RU",
    "turkey": "TR",
    "turquia": "TR",
}

TRANSLATIONS = ("pt_BR", "pt")

_NOT_LETTERS = re.compile(r"[^a-z0-9]+")


def _fold(text: str) -> str:
    """Lower case, without accents, punctuation or repeated spaces: "Côte d'Ivoire" →
    "cote d ivoire"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_LETTERS.sub(" ", bare).strip()


@cache
def _lookup() -> dict[str, str]:
    """Every folded name and code → its alpha-2 code; built once per process (~250
    countries, a few thousand keys)."""
    translations = [
        gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
        for language in TRANSLATIONS
    ]
    table: dict[str, str] = {}
    heads: dict[str, set[str]] = {}
    for country in pycountry.countries:
        names = [
            getattr(country, attribute, None)
            for attribute in ("name", "official_name", "common_name")
        ]
        for name in [name for name in names if name]:
            for written in [name, *(t.gettext(name) for t in translations)]:
                table.setdefault(_fold(written), country.alpha_2)
                # "Iran, Islamic Republic of" and "Irã (República Islâmica do)" are "Iran"
                head = _fold(re.split(r"[,(]", written, maxsplit=1)[0])
                heads.setdefault(head, set()).add(country.alpha_2)
    for head, codes in heads.items():
        if len(codes) == 1:  # not "Korea" (north and south), nor "Congo"
            table.setdefault(head, next(iter(codes)))
    for country in pycountry.countries:  # codes last never shadow a name, and win over none
        table[_fold(country.alpha_3)] = country.alpha_2
        table[_fold(country.alpha_2)] = country.alpha_2
    for alias, code in ALIASES.items():
        table.setdefault(alias, code)
    return table


def country_code(text: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of the country ``text`` names ("Brasil" → "BR", "deu" →
    "DE", "Portugal" → "PT"), or None when it names none that Leadmill knows."""
    folded = _fold(text or "")
    if not folded:
        return None
    return _lookup().get(folded)
