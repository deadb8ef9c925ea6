"""Admin-edited data: sites, bot rules, and the tracker tag for templates."""

import pytest
from django.core.exceptions import ValidationError
from django.template import Context, Template

from ..models import BotRule, Site

pytestmark = pytest.mark.django_db


def test_a_site_origin_is_kept_lower_case_without_a_trailing_slash():
    site = Site(name="Shop", origin="HTTPS://Shop.Example.com/")
    site.full_clean()
    site.save()

    assert Site.objects.get().origin == "https://shop.example.com"


@pytest.mark.parametrize(
    "origin", ["shop.example.com", "https://shop.example.com/pricing", "ftp://shop.example.com"]
)
def test_a_site_origin_with_a_path_or_without_a_scheme_is_refused(origin):
    with pytest.raises(ValidationError) as error:
        Site(name="Shop", origin=origin).full_clean()

    assert error.value.message_dict["origin"] == [
        "Enter only a scheme and host, e.g. https://www.example.com."
    ]


def test_an_invalid_regular_expression_rule_is_refused():
    with pytest.raises(ValidationError) as error:
        BotRule(pattern="(unclosed", kind=BotRule.Kind.REGEX).full_clean()

    assert error.value.message_dict["pattern"][0].startswith(
        "This is not a valid regular expression"
    )


def test_the_seeded_rules_left_are_those_the_crawler_list_does_not_cover():
    rules = set(BotRule.objects.values_list("pattern", "kind", "action"))

    assert rules == {
        (pattern, "substring", "bot")
        for pattern in ("archive.org", "Selenium", "Preview", "monitor", "Java/")
    }


def test_the_tracker_tag_for_leadmill_pages_uses_relative_urls(settings):
    settings.LEADMILL_TRACKING_REQUIRE_CONSENT = False

    html = Template("{% load tracking_tags %}{% leadmill_tracker %}").render(Context())

    assert html == (
        '<script defer src="/static/tracking/lm.js" data-lm-endpoint="/t/collect" '
        'data-lm-require-consent="0"></script>'
    )


def test_the_tracker_snippet_for_other_sites_is_absolute_and_carries_the_consent_mode(settings):
    settings.BASE_URL = "https://leads.example.com"
    settings.LEADMILL_TRACKING_REQUIRE_CONSENT = True

    html = Template("{% load tracking_tags %}{% leadmill_tracker absolute=True %}").render(
        Context()
    )

    assert html == (
        '<script defer src="https://leads.example.com/t/lm.js" '
        'data-lm-endpoint="https://leads.example.com/t/collect" data-lm-require-consent="1"></script>'
    )
