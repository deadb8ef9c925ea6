"""Channel classification (sources.py): a table of real-world visits."""

import pytest

from leadmill.core.http import origin_of

from ..sources import (
    Source,
    campaign_params,
    classify,
    host_of,
    source_canonical,
    source_of,
)

pytestmark = pytest.mark.django_db  # the shared conftest clears the database cache

OWN = ("leads.example.com", "www.example.com")


@pytest.mark.parametrize(
    ("utm", "referrer", "click_ids", "expected"),
    [
        # direct and internal
        ({}, "", {}, Source("direct")),
        ({}, "https://www.example.com/blog/post", {}, Source("internal")),
        ({}, "https://leads.example.com/other", {}, Source("internal")),
        # organic search
        ({}, "https://www.google.com/", {}, Source("organic_search", "google", "organic")),
        ({}, "https://www.google.com.br/", {}, Source("organic_search", "google", "organic")),
        ({}, "https://www.bing.com/search?q=x", {}, Source("organic_search", "bing", "organic")),
        ({}, "https://duckduckgo.com/", {}, Source("organic_search", "duckduckgo", "organic")),
        ({}, "https://yandex.ru/", {}, Source("organic_search", "yandex", "organic")),
        (
            {"utm_source": "google", "utm_medium": "organic"},
            "",
            {},
            Source("organic_search", "google", "organic"),
        ),
        # paid search
        ({}, "https://www.google.com/", {"gclid": "abc"}, Source("paid_search", "google", "cpc")),
        ({}, "", {"gclid": "abc"}, Source("paid_search", "google", "cpc")),
        ({}, "", {"msclkid": "abc"}, Source("paid_search", "bing", "cpc")),
        (
            {
                "utm_source": "google",
                "utm_medium": "cpc",
                "utm_campaign": "Brand",
                "utm_term": "crm",
            },
            "",
            {},
            Source("paid_search", "google", "cpc", "Brand", "crm"),
        ),
        ({"utm_source": "bing", "utm_medium": "ppc"}, "", {}, Source("paid_search", "bing", "ppc")),
        (
            {"utm_source": "adwords", "utm_medium": "paid"},
            "",
            {},
            Source("paid_search", "google", "paid"),
        ),
        # social, organic
        ({}, "https://l.instagram.com/", {}, Source("social", "instagram", "social")),
        ({}, "https://www.instagram.com/", {}, Source("social", "instagram", "social")),
        ({}, "https://l.instagram.com/", {"fbclid": "x"}, Source("social", "instagram", "social")),
        ({}, "https://m.facebook.com/", {}, Source("social", "facebook", "social")),
        ({}, "https://lm.facebook.com/", {"fbclid": "x"}, Source("social", "facebook", "social")),
        ({}, "", {"fbclid": "x"}, Source("social", "facebook", "social")),
        ({}, "https://www.linkedin.com/feed/", {}, Source("social", "linkedin", "social")),
        ({}, "https://lnkd.in/abc", {}, Source("social", "linkedin", "social")),
        ({}, "https://t.co/xyz", {}, Source("social", "x", "social")),
        ({}, "https://twitter.com/", {}, Source("social", "x", "social")),
        ({}, "https://www.tiktok.com/", {}, Source("social", "tiktok", "social")),
        ({}, "https://www.youtube.com/watch?v=1", {}, Source("social", "youtube", "social")),
        ({"utm_source": "twitter"}, "", {}, Source("social", "x", "social")),
        (
            {"utm_source": "instagram", "utm_medium": "social", "utm_campaign": "launch"},
            "",
            {},
            Source("social", "instagram", "social", "launch"),
        ),
        # link in bio
        (
            {"utm_source": "instagram", "utm_medium": "bio"},
            "https://linktr.ee/acme",
            {},
            Source("social", "instagram", "bio"),
        ),
        (
            {"utm_source": "ig"},
            "https://linktr.ee/acme",
            {},
            Source("social", "instagram", "social"),
        ),
        ({}, "https://linktr.ee/acme", {}, Source("social", "linktr.ee", "social")),
        # paid social, Instagram lead ads
        (
            {"utm_source": "ig", "utm_medium": "paid", "utm_campaign": "leadads"},
            "",
            {},
            Source("paid_social", "instagram", "paid", "leadads"),
        ),
        (
            {"utm_source": "IG", "utm_medium": "cpc"},
            "",
            {},
            Source("paid_social", "instagram", "cpc"),
        ),
        (
            {"utm_source": "fb", "utm_medium": "paid_social"},
            "",
            {},
            Source("paid_social", "facebook", "paid_social"),
        ),
        (
            {"utm_source": "linkedin", "utm_medium": "cpc"},
            "",
            {},
            Source("paid_social", "linkedin", "cpc"),
        ),
        # email
        (
            {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "june"},
            "",
            {},
            Source("email", "newsletter", "email", "june"),
        ),
        (
            {"utm_source": "acme", "utm_medium": "Newsletter"},
            "",
            {},
            Source("email", "acme", "newsletter"),
        ),
        ({}, "https://mail.google.com/", {}, Source("email", "mail.google.com", "email")),
        ({}, "https://outlook.live.com/mail/0/", {}, Source("email", "outlook.live.com", "email")),
        # email wins over an internal referrer: a tagged link is always a touch
        ({"utm_medium": "email"}, "https://www.example.com/", {}, Source("email", "", "email")),
        # referral
        (
            {},
            "https://news.example.org/article",
            {},
            Source("referral", "news.example.org", "referral"),
        ),
        (
            {"utm_source": "partner.io", "utm_medium": "referral"},
            "",
            {},
            Source("referral", "partner.io", "referral"),
        ),
        # other tagged traffic
        ({"utm_source": "flyer", "utm_medium": "print"}, "", {}, Source("other", "flyer", "print")),
        ({"utm_campaign": "spring"}, "", {}, Source("other", "", "", "spring")),
    ],
)
def test_a_visit_is_classified_into_its_channel(utm, referrer, click_ids, expected):
    assert (
        classify(
            utm=utm,
            referrer=referrer,
            click_ids=click_ids,
            url="https://www.example.com/offer",
            own_hosts=OWN,
        )
        == expected
    )


def test_a_referrer_from_the_same_host_as_the_page_is_internal_without_own_hosts():
    assert classify(referrer="https://acme.test/a", url="https://acme.test/b").channel == "internal"


def test_internal_and_empty_channels_are_not_touches_and_direct_is():
    assert not Source("internal").is_touch
    assert not Source("").is_touch
    assert Source("direct").is_touch
    assert Source("social", "instagram").is_touch


def test_source_of_reads_utm_and_click_ids_from_the_url_and_explicit_utm_wins():
    source, click_ids = source_of(
        url="https://www.example.com/offer?utm_source=ig&utm_medium=paid&utm_campaign=june&fbclid=F1&x=1",
        referrer="https://l.instagram.com/",
        utm={"utm_campaign": "june-b"},
        own_hosts=OWN,
    )

    assert source == Source("paid_social", "instagram", "paid", "june-b")
    assert click_ids == {"fbclid": "F1"}


def test_gclid_in_the_url_makes_paid_search():
    source, click_ids = source_of(
        url="https://www.example.com/?gclid=G1", referrer="https://www.google.com/"
    )

    assert source == Source("paid_search", "google", "cpc")
    assert click_ids == {"gclid": "G1"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ig", "instagram"),
        ("Instagram", "instagram"),
        ("l.instagram.com", "instagram"),
        ("fb", "facebook"),
        ("www.facebook.com", "facebook"),
        ("twitter", "x"),
        ("t.co", "x"),
        ("Newsletter", "newsletter"),
        ("www.partner.io", "partner.io"),
    ],
)
def test_source_names_are_canonical(value, expected):
    assert source_canonical(value) == expected


def test_url_helpers_tolerate_garbage():
    assert host_of("https://WWW.Example.com:8443/x") == "example.com"
    assert host_of("not a url") == ""
    assert host_of("http://[::1") == ""
    assert origin_of("https://Example.com/path?q") == "https://example.com"
    assert origin_of("javascript:alert(1)") == ""
    assert origin_of("http://[::1") == ""
    assert campaign_params("https://x.test/?utm_source=%20ig%20&utm_medium=&gclid=1") == {
        "utm_source": "ig",
        "gclid": "1",
    }
