"""Wagtail's snippet choosers speak the reader's language (leadmill/core/admin_i18n.py): they
were worded once, in the language of the first request (issue 14, item 16)."""

import pytest

from leadmill.capture.tests.factories import FormFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(client, django_user_model):
    """A back-office superuser; ``reader("pt-br")`` reads in Brazilian Portuguese."""
    from wagtail.users.models import UserProfile

    user = django_user_model.objects.create_superuser("ana", "ana@leadmill.test", "pw")
    client.force_login(user)

    def in_language(language: str):
        profile = UserProfile.get_for_user(user)
        profile.preferred_language = language
        profile.save()
        return client

    return in_language


def test_the_sequence_editors_choosers_follow_the_readers_language(reader):
    english = reader("en").get("/admin/snippets/nurture/sequence/add/").content.decode()
    portuguese = reader("pt-br").get("/admin/snippets/nurture/sequence/add/").content.decode()

    assert ("Choose offer" in english, "Choose segment" in english) == (True, True)
    assert ("Escolher oferta" in portuguese, "Escolher segmento" in portuguese) == (True, True)
    assert ("Choose offer" in portuguese, "Choose segment" in portuguese) == (False, False)


def test_the_form_editors_offer_chooser_and_purpose_label_follow_the_readers_language(reader):
    form = FormFactory()
    url = f"/admin/snippets/capture/form/edit/{form.pk}/"
    reader("en").get(url)

    portuguese = reader("pt-br").get(url).content.decode()

    assert "Escolher oferta" in portuguese
    assert "Choose offer" not in portuguese
    assert "Purpose" not in portuguese
