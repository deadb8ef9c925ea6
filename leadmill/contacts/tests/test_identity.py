"""Email normalisation: the per-domain fast path gives exactly email-validator's answers."""

import pytest
from email_validator import EmailNotValidError, validate_email

from leadmill.core.errors import ValidationFailed

from ..identity import _domain_checked, _plain_email_normalised, email_normalise

pytestmark = pytest.mark.django_db  # the suite's autouse fixtures clear cached rows

LONG_DOMAIN = ".".join(["d" * 60] * 3) + ".com"  # 187 characters

ADDRESSES = [
    "Ana@Example.COM",
    "ana.maria+tag@gmail.com",
    "o'neil_{x}|y~z@example.org",
    "x@bücher.de",
    "x@XN--BCHER-KVA.DE",
    "x@sub.Example.co.uk",
    "l" * 64 + "@example.com",
    "l" * 65 + "@example.com",
    "l" * (254 - len(LONG_DOMAIN) - 1) + "@" + LONG_DOMAIN,  # exactly 254: valid
    "l" * (255 - len(LONG_DOMAIN) - 1) + "@" + LONG_DOMAIN,  # 255: too long
    "l" * 40 + "@" + "ü" * 50 + ".de",  # fits in characters, its IDNA form is the longest
    "a@example.com.",
    ".a@example.com",
    "a.@example.com",
    "a..b@example.com",
    "a@-example.com",
    "a@example",
    "a@localhost",
    "a@example.invalid",
    "a@exa mple.com",
    "josé@example.com",
    '"quoted"@example.com',
    "Name <a@example.com>",
    "a@[127.0.0.1]",
    "a@b@example.com",
    "@example.com",
    "a@",
    "plain",
]


def _library(value: str) -> str | None:
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    return f"{result.local_part.lower()}@{result.ascii_domain.lower()}"


@pytest.mark.parametrize("value", ADDRESSES)
def test_email_normalise_answers_as_email_validator_does(value):
    expected = _library(value)
    if expected is None:
        with pytest.raises(ValidationFailed) as error:
            email_normalise(value, check_deliverability=False)
        assert error.value.code == "email_invalid"
    else:
        assert email_normalise(value, check_deliverability=False) == expected


def test_plain_addresses_take_the_fast_path_and_check_a_domain_once():
    _domain_checked.cache_clear()
    assert _plain_email_normalised("Ana@Example.COM") == "ana@example.com"
    assert _plain_email_normalised("bruno@Example.COM") == "bruno@example.com"
    info = _domain_checked.cache_info()
    assert (info.misses, info.hits) == (1, 1)


def test_anything_unusual_takes_the_whole_check():
    assert _plain_email_normalised("josé@example.com") is None  # not ASCII before the @
    assert _plain_email_normalised('"a b"@example.com') is None  # quoted
    assert _plain_email_normalised("a@exa mple.com") is None  # invalid domain: the library says why
