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
