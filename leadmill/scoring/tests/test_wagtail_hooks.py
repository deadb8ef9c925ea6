"""Scoring rules in the back office: listings, and a recompute after a rule is saved."""

import pytest
from django.urls import reverse

from leadmill.contacts.tests.factories import ContactFactory

from ..models import ContactScore, FitRule, ScoringSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    )
    return client


def test_saving_a_fit_rule_in_the_back_office_rescores_every_lead(
    staff, django_capture_on_commit_callbacks
):
    contact = ContactFactory(country="BR")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            reverse(FitRule.snippet_viewset.get_url_name("add")),
            {
                "field": "country",
                "operator": "in",
                "value": "br, pt",
                "points": "9",
                "is_active": "on",
            },
        )

    assert response.status_code == 302
    assert ContactScore.objects.get(contact=contact).fit_score == 9


def test_a_fit_rule_on_an_unknown_field_is_refused_with_a_clear_message(staff):
    response = staff.post(
        reverse(FitRule.snippet_viewset.get_url_name("add")),
        {"field": "salary", "operator": "equals", "value": "x", "points": "1"},
    )

    assert response.status_code == 200
    assert "custom.&lt;key&gt; for a custom field" in response.content.decode()
    assert not FitRule.objects.exists()


def test_the_rule_listings_and_the_settings_open(staff):
    FitRule.objects.create(field="role", operator="equals", value="ceo", points=20)
    ScoringSettings.load()

    assert staff.get(reverse(FitRule.snippet_viewset.get_url_name("list"))).status_code == 200
    assert staff.get("/admin/snippets/scoring/engagementrule/").status_code == 200
    settings_page = staff.get("/admin/settings/scoring/scoringsettings/", follow=True)
    assert settings_page.status_code == 200
    assert "Engagement half-life (days)" in settings_page.content.decode()
