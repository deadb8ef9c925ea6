"""The suppression list has a key of its own, that rotating SECRET_KEY never touches
(consent/selectors.py suppression_key, services.py suppression_rehash, checks.py)."""

import io

import pytest
from django.core import checks
from django.core.management import call_command
from django.utils.crypto import salted_hmac

from leadmill.contacts.tests.factories import ContactFactory

from ..models import Suppression
from ..selectors import (
    ADDRESS_HASH_SALT,
    _pinned_key,
    is_suppressed,
    marketing_recipients,
)
from .factories import SuppressionFactory, consent_give

pytestmark = pytest.mark.django_db

OLD_SECRET = "the-secret-key-before-the-rotation-0123456789abcdef"
NEW_SECRET = "the-secret-key-after-the-rotation-0123456789abcdefgh"
SUPPRESSION_KEY = "the-suppression-list-key-0123456789abcdefghijklmnop"


def hash_before_this_change(email, *, secret_key):
    """How a row was keyed while the list used SECRET_KEY."""
    return salted_hmac(ADDRESS_HASH_SALT, email, secret=secret_key, algorithm="sha256").hexdigest()


@pytest.fixture
def own_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    _pinned_key.cache_clear()
    yield tmp_path
    _pinned_key.cache_clear()


def test_a_suppressed_address_stays_suppressed_when_the_secret_key_is_rotated_and_dropped(settings):
    # given a dedicated key, a suppressed address and a permitted contact with it
    settings.LEADMILL_SUPPRESSION_KEY = SUPPRESSION_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_SECRET, []
    contact = ContactFactory(email="ana@example.com")
    consent_give(contact)
    SuppressionFactory(email="ana@example.com", reason=Suppression.Reason.COMPLAINT)

    # when SECRET_KEY is rotated and the old one is dropped from the fallbacks
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_SECRET, []

    # then the address is still suppressed, for every kind of email
    assert is_suppressed(email="ana@example.com") is True
    assert marketing_recipients(contact_ids=[contact.pk]) == set()


def test_without_the_variable_the_key_is_pinned_in_the_data_dir_and_an_existing_list_keeps_matching(
    settings, own_data_dir
):
    # given an install whose list was keyed by SECRET_KEY, and no LEADMILL_SUPPRESSION_KEY
    settings.LEADMILL_SUPPRESSION_KEY = ""
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_SECRET, []
    Suppression.objects.create(
        address_hash=hash_before_this_change("bia@example.com", secret_key=OLD_SECRET),
        reason=Suppression.Reason.HARD_BOUNCE,
    )
    assert is_suppressed(email="bia@example.com") is True  # first use pins the key
    SuppressionFactory(email="caio@example.com")

    # when SECRET_KEY is rotated without a fallback (and the process restarts)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_SECRET, []
    _pinned_key.cache_clear()

    # then the old row and the new one still match, under the pinned key
    assert (own_data_dir / "suppression_key").read_text() == OLD_SECRET
    assert oct((own_data_dir / "suppression_key").stat().st_mode & 0o777) == "0o600"
    assert is_suppressed(email="bia@example.com") is True
    assert is_suppressed(email="caio@example.com") is True
    assert is_suppressed(email="dora@example.com") is False


def test_rehash_moves_the_list_from_the_secret_key_to_a_new_dedicated_key(settings, own_data_dir):
    # given rows keyed by SECRET_KEY (one a contact, one an erased person), and then a new
    # dedicated key: the old rows no longer match
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_SECRET, []
    ContactFactory(email="ana@example.com")
    for email in ("ana@example.com", "erased@example.com"):
        Suppression.objects.create(
            address_hash=hash_before_this_change(email, secret_key=OLD_SECRET),
            reason=Suppression.Reason.ERASED,
        )
    settings.LEADMILL_SUPPRESSION_KEY = SUPPRESSION_KEY
    assert is_suppressed(email="ana@example.com") is False

    # when the list is re-hashed
    out = io.StringIO()
    call_command("suppression_rehash", stdout=out)

    # then the contact's row is under the new key; the erased one stays as it was and
    # matches while its old key is a fallback
    assert (
        out.getvalue().splitlines()[0]
        == "1 re-hashed, 1 under the current key, 1 left as they were."
    )
    assert is_suppressed(email="ana@example.com") is True
    assert Suppression.objects.count() == 2
    assert is_suppressed(email="erased@example.com") is False
    settings.LEADMILL_SUPPRESSION_KEY_FALLBACKS = [OLD_SECRET]
    assert is_suppressed(email="erased@example.com") is True

    # and a second run has nothing left to move
    again = io.StringIO()
    call_command("suppression_rehash", stdout=again)
    assert (
        again.getvalue().splitlines()[0]
        == "0 re-hashed, 1 under the current key, 1 left as they were."
    )


def test_rehash_takes_an_old_dedicated_key_from_an_environment_variable(settings, monkeypatch):
    # given a row under an old dedicated key, a contact with its address and the same
    # address listed under the new key too
    old_key = "the-previous-suppression-key-0123456789abcdefghij"
    settings.LEADMILL_SUPPRESSION_KEY = old_key
    ContactFactory(email="ana@example.com")
    ContactFactory(email="bia@example.com")
    SuppressionFactory(email="ana@example.com")
    SuppressionFactory(email="bia@example.com")
    settings.LEADMILL_SUPPRESSION_KEY = SUPPRESSION_KEY
    SuppressionFactory(email="bia@example.com")
    monkeypatch.setenv("OLD_LEADMILL_SUPPRESSION_KEY", old_key)

    # when
    out = io.StringIO()
    call_command("suppression_rehash", "--from-env", "OLD_LEADMILL_SUPPRESSION_KEY", stdout=out)

    # then both addresses are listed once, under the new key
    assert (
        out.getvalue().splitlines()[0]
        == "2 re-hashed, 2 under the current key, 0 left as they were."
    )
    assert Suppression.objects.count() == 2
    assert is_suppressed(email="ana@example.com") is True
    assert is_suppressed(email="bia@example.com") is True


def deploy_check_ids():
    return {m.id for m in checks.run_checks(include_deployment_checks=True)}


def test_check_deploy_warns_while_the_suppression_key_is_not_set(settings):
    settings.LEADMILL_SUPPRESSION_KEY = ""
    assert "leadmill.consent.W001" in deploy_check_ids()

    settings.LEADMILL_SUPPRESSION_KEY = SUPPRESSION_KEY
    assert "leadmill.consent.W001" not in deploy_check_ids()


def test_the_warning_is_a_deploy_check_only(settings):
    settings.LEADMILL_SUPPRESSION_KEY = ""
    assert "leadmill.consent.W001" not in {m.id for m in checks.run_checks()}


def test_check_deploy_reads_the_key_from_the_environment(tmp_path):
    from leadmill.core.tests.test_settings import settings_in_subprocess

    code = (
        "from django.core import checks\n"
        "print(json.dumps(sorted(m.id for m in checks.run_checks(include_deployment_checks=True)"
        " if m.id.startswith('leadmill.consent'))))"
    )

    unset = settings_in_subprocess(tmp_path, {"LEADMILL_SUPPRESSION_KEY": ""}, code)
    given = settings_in_subprocess(tmp_path, {"LEADMILL_SUPPRESSION_KEY": SUPPRESSION_KEY}, code)

    assert (unset, given) == (["leadmill.consent.W001"], [])
