"""Back-office sign-in throttling (django-axes, settings AXES_*): repeated failures lock out
an account and an address for the cool-off time, and every failure is recorded."""

import datetime as dt

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth import get_user_model
from django.test import Client

from leadmill.api.services import api_key_create

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
LOGIN = "/admin/login/"


@pytest.fixture
def marketer():
    return get_user_model().objects.create_superuser("marketer", "marketer@example.com", PASSWORD)


def sign_in(client: Client, username: str, password: str, **headers):
    return client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, **headers
    )


def signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def fail(client: Client, times: int, *, username: str = "marketer", **headers) -> list[int]:
    return [
        sign_in(client, username, f"wrong-{attempt}", **headers).status_code
        for attempt in range(times)
    ]


def cool_off_passes() -> None:
    """As if the cool-off time had gone by since the failures (axes compares their time with now)."""
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16))


def test_after_five_wrong_passwords_the_right_one_is_refused_until_the_cool_off_has_passed(
    marketer, settings
):
    # given the documented defaults: 5 failures, 15 minutes
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 900
    client = Client()

    # when the account gets five wrong passwords, then the right one
    failures = fail(client, 5)
    refused = sign_in(client, "marketer", PASSWORD)

    # then the first four are the usual sign-in form, the fifth and the right one are refused
    # with a sentence saying how long to wait, and nobody is signed in
    assert failures == [200, 200, 200, 200, 429]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "900"
    assert "Too many failed sign-in attempts." in refused.content.decode()
    assert "is paused for 15 minutes." in refused.content.decode()
    assert not signed_in(client)
    # and every failure is recorded, with the address it came from; the last two as refused
    recorded = AccessFailureLog.objects.filter(
        username="marketer", ip_address="127.0.0.1"
    ).order_by("pk")
    assert list(recorded.values_list("locked_out", flat=True)) == [
        False,
        False,
        False,
        False,
        True,
        True,
    ]

    # when the cool-off time has passed
    cool_off_passes()
    accepted = sign_in(client, "marketer", PASSWORD)

    # then the right password signs in
    assert accepted.status_code == 302
    assert accepted["Location"] == "/admin/"
    assert signed_in(client)


def test_the_locked_out_person_reads_the_message_in_their_language(marketer):
    client = Client(headers={"accept-language": "pt-BR"})
    fail(client, 5)

    refused = sign_in(client, "marketer", PASSWORD)

    assert refused.status_code == 429
    assert "Muitas tentativas de entrada sem sucesso." in refused.content.decode()


def test_failures_on_many_accounts_from_one_address_lock_out_that_address_only(marketer):
    # given five wrong passwords for five made-up accounts, from one address
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for number in range(5):
        fail(attacker, 1, username=f"guess{number}")

    # when the real account signs in from that address, and from another one
    from_the_attacker = sign_in(attacker, "marketer", PASSWORD)
    elsewhere = Client(REMOTE_ADDR="198.51.100.2")
    from_elsewhere = sign_in(elsewhere, "marketer", PASSWORD)

    # then only the attacker's address is refused
    assert from_the_attacker.status_code == 429
    assert from_elsewhere.status_code == 302
    assert signed_in(elsewhere)


def test_behind_a_proxy_the_address_is_the_last_forwarded_one(marketer, settings):
    # given a proxy in front (its address is the socket's), and five failures forwarded for
    # one client who also sends made-up X-Forwarded-For entries of its own
    settings.LEADMILL_TRUST_X_FORWARDED_FOR = True
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for number in range(5):
        fail(
            Client(**proxy),
            1,
            username=f"guess{number}",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{number}, 203.0.113.7",
        )

    # when the real account signs in through the proxy for that client and for another one
    locked = sign_in(
        Client(**proxy), "marketer", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7"
    )
    other = sign_in(
        Client(**proxy), "marketer", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.2"
    )

    # then the client the proxy saw is locked out, whatever it wrote before, and the other is not
    assert locked.status_code == 429
    assert other.status_code == 302
    assert set(AccessFailureLog.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}


def test_api_keys_are_unaffected_by_a_locked_out_address(marketer):
    # given an address locked out of the back office
    client = Client()
    fail(client, 5)
    assert sign_in(client, "marketer", PASSWORD).status_code == 429
    _key, secret = api_key_create(name="bi", scopes=["leads:read"])

    # when an API client at that address calls the API with its key
    response = client.get("/api/v1/leads/", headers={"authorization": f"Bearer {secret}"})

    # then it is answered as usual
    assert response.status_code == 200
