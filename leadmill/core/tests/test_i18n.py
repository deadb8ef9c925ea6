import pytest
from django.utils import translation
from django.utils.translation import gettext, ngettext

pytestmark = pytest.mark.django_db


def test_admin_login_is_shown_in_brazilian_portuguese(client):
    response = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="pt-br")

    assert response.status_code == 200
    assert "Entrar" in response.content.decode()


@pytest.mark.parametrize(
    ("msgid", "expected"),
    [
        ("Enter your email address.", "Informe seu endereço de e-mail."),
        ("Tick this box to continue.", "Marque esta caixa para continuar."),
        (
            "Enter a valid email address, like name@example.com.",
            "Informe um endereço de e-mail válido, como nome@exemplo.com.",
        ),
    ],
)
def test_our_own_messages_are_translated_to_brazilian_portuguese(msgid, expected):
    with translation.override("pt-br"):
        assert gettext(msgid) == expected


def test_plural_forms_follow_brazilian_portuguese_rules():
    singular = "The link works for %(hours)s hour."
    plural = "The link works for %(hours)s hours."
    with translation.override("pt-br"):
        assert ngettext(singular, plural, 1) % {"hours": 1} == "O link é válido por 1 hora."
        assert ngettext(singular, plural, 48) % {"hours": 48} == "O link é válido por 48 horas."


# Names the same in both languages.
SAME_PLURAL_IN_PORTUGUESE = {"leads", "sites", "landing pages"}


def leadmill_models_with_a_verbose_name():
    from django.apps import apps

    return [
        model
        for model in apps.get_models()
        if model.__module__.startswith("leadmill.") and "verbose_name" in model._meta.original_attrs
    ]


@pytest.mark.parametrize("model", leadmill_models_with_a_verbose_name(), ids=lambda m: m.__name__)
def test_every_model_names_its_plural_in_both_languages(model):
    # Django's default plural adds an "s" to the translated singular: "vendedors",
    # "modelo de e-mails", "possível duplicados" in listing titles and counts.
    assert "verbose_name_plural" in model._meta.original_attrs
    english = str(model._meta.verbose_name_plural)
    with translation.override("pt-br"):
        portuguese = str(model._meta.verbose_name_plural)
    assert portuguese != english or english in SAME_PLURAL_IN_PORTUGUESE


def test_a_back_office_listing_is_titled_with_the_portuguese_plural(client, django_user_model):
    # Given a back-office user who reads Portuguese
    from wagtail.users.models import UserProfile

    user = django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = "pt-br"
    profile.save()
    client.force_login(user)

    # When they open the sales reps and the email templates
    reps = client.get("/admin/sales/reps/").content.decode()
    templates = client.get("/admin/snippets/messaging/emailtemplate/").content.decode()

    # Then the titles are Portuguese plurals, not the singular with an "s"
    assert "<title>Vendedores - Wagtail</title>" in reps
    assert "Vendedors" not in reps
    assert "<title>Modelos de e-mail - Wagtail</title>" in templates
