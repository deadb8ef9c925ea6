"""schemathesis against the API's live schema (``/api/openapi.json``), with every check:
what the schema promises is what the API does (issue 12, item 12).

Run through the production WSGI application, with a valid key (every scope) and without
one (so each operation's 401 is documented). Deterministic and bounded: a fixed number of
examples per operation, derandomized, no example database, no coverage phase (see below).
"""

from __future__ import annotations

import phonenumbers
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS
from schemathesis.specs.openapi.checks import positive_data_acceptance

from leadmill.contacts.identity import email_normalise
from leadmill.core.errors import ValidationFailed
from leadmill.core.tests.wsgi_client import signals_spare_the_test_transaction
from leadmill.wsgi import application

from ..services import api_key_create

pytestmark = pytest.mark.django_db

EXAMPLES = 25
# The API checks addresses and phones with email_validator and phonenumbers (400
# ``email_invalid`` / ``phone_invalid``, documented), and a stated consent against the
# purposes and text versions in the database (400 ``consent_unknown``), and a webhook URL
# against DNS and the public-address rule (400 ``url_refused``), a report's period (400
# ``bad_period``: since after until, or longer than ten years), a country name against
# the names it knows (400 ``country_unknown``), a spend row's currency against the reporting
# currency (400 ``currency_refused``), a merge of a lead with itself (the path's
# id in the body: 400 ``merge_self``), events' properties against 4096 bytes of JSON (400
# ``properties_too_large``), an attribution model with a breakdown it does not change (400
# ``attribution_needs_touch_group``); no JSON Schema can say those rules, so only these refusals of a
# schema-valid body are not failures.
CHECKED_BEYOND_THE_SCHEMA = {
    "email_invalid",
    "phone_invalid",
    "consent_unknown",
    "url_refused",
    "bad_period",
    "country_unknown",
    "merge_self",
    "properties_too_large",
    "currency_refused",
    "attribution_needs_touch_group",
}


def _accepted(address: str) -> bool:
    try:
        email_normalise(address, check_deliverability=False)
    except ValidationFailed:
        return False
    return True


# The schema names the formats; the API checks them with email_validator and phonenumbers.
# These draw what those libraries accept (hypothesis' addresses may use reserved domains).
schemathesis.openapi.format("email", st.emails().filter(_accepted))
schemathesis.openapi.format(
    "phone",
    st.sampled_from(
        [
            phonenumbers.format_number(
                phonenumbers.example_number(region), phonenumbers.PhoneNumberFormat.E164
            )
            for region in ("BR", "PT", "US", "GB", "DE", "IN", "JP")
        ]
    ),
)

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
# The coverage phase computes its examples at collection: for the text patterns of every field
# that took four minutes here, past this test's time budget; the examples and fuzzing phases
# (positive and negative) run, and test_input_edge.py pins the boundaries by hand.
schema.config.phases.coverage.enabled = False
schema.config.generation.update(
    max_examples=EXAMPLES, deterministic=True, database="none", with_security_parameters=False
)

BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def key_secret(settings):
    settings.LEADMILL_API_RATE_LIMIT = 0  # every example is sent with the one key
    _key, secret = api_key_create(name="schemathesis", scopes=["all"])  # every scope
    with signals_spare_the_test_transaction():
        yield secret


def positive_data_accepted_or_refused_by_the_identity_rules(ctx, response, case):
    """schemathesis' ``positive_data_acceptance``, but for CHECKED_BEYOND_THE_SCHEMA."""
    if response.status_code == 400 and response.json().get("code") in CHECKED_BEYOND_THE_SCHEMA:
        return None
    # The examples of one operation share the key, and may draw one Idempotency-Key for two
    # bodies: the 422 that answers is the rule test_idempotency.py checks, not a refusal.
    if response.status_code == 422 and response.json().get("code") == "idempotency_key_reused":
        return None
    return positive_data_acceptance(ctx, response, case)


ALL_CHECKS = [check for check in CHECKS.get_all() if not isinstance(check, type)]
EVERY_CHECK = {
    "checks": [check for check in ALL_CHECKS if check is not positive_data_acceptance]
    + [positive_data_accepted_or_refused_by_the_identity_rules],
}


@schema.parametrize()
@BOUNDED
def test_the_api_does_what_its_schema_says_with_a_key(case, key_secret):
    case.call_and_validate(headers={"Authorization": f"Bearer {key_secret}"}, **EVERY_CHECK)


@schema.parametrize()
@BOUNDED
def test_the_api_does_what_its_schema_says_without_a_key(case):
    with signals_spare_the_test_transaction():
        case.call_and_validate(**EVERY_CHECK)
