"""The API's input edge: what it refuses (through core.text) and the one error shape of
every error it answers (issue 12, items 2 and 3)."""

import json

import pytest

from leadmill.contacts.models import Contact
from leadmill.nurture.models import Enrollment, Sequence

from ..services import api_key_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers():
    _key, secret = api_key_create(
        name="crm", scopes=["leads:read", "leads:write", "sequences:write"]
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def post_lead(client, headers, body: str, content_type: str = "application/json"):
    return client.post("/api/v1/leads/", body, content_type=content_type, **headers)


def test_nan_or_infinity_in_custom_is_refused_per_field(client, headers):
    nan = post_lead(client, headers, '{"email": "ana@example.com", "custom": {"score": NaN}}')
    infinity = post_lead(
        client, headers, '{"email": "ana@example.com", "custom": {"score": -Infinity}}'
    )

    assert (nan.status_code, infinity.status_code) == (422, 422)
    assert nan.json() == {
        "code": "invalid",
        "message": "Some fields are not valid; see errors.",
        "errors": {"custom": ["Numbers must be finite (NaN and Infinity are not allowed)."]},
    }
    assert infinity.json()["errors"] == nan.json()["errors"]
    assert not Contact.objects.exists()


def test_an_integer_past_64_bits_in_custom_is_refused(client, headers):
    response = post_lead(
        client, headers, json.dumps({"email": "ana@example.com", "custom": {"n": 2**70}})
    )

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "custom": ["This number is too large; numbers must be between -2^63 and 2^63."]
    }
    assert not Contact.objects.exists()


def test_a_custom_of_ten_thousand_keys_is_refused(client, headers):
    custom = {f"key{i}": "value" for i in range(10_000)}

    response = post_lead(
        client, headers, json.dumps({"email": "ana@example.com", "custom": custom})
    )

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "custom": ["This value has too many entries (at most 100)."]
    }
    assert not Contact.objects.exists()


def test_a_nul_or_a_control_character_in_a_name_is_refused_as_forms_refuse_it(client, headers):
    nul = post_lead(
        client, headers, json.dumps({"email": "ana@example.com", "first_name": "A\x00na"})
    )
    vtab = post_lead(
        client, headers, json.dumps({"email": "ana@example.com", "last_name": "Lima\x0b"})
    )
    surrogate = post_lead(client, headers, '{"email": "ana@example.com", "role": "CTO \\ud800"}')

    assert (nul.status_code, vtab.status_code, surrogate.status_code) == (422, 422, 422)
    assert nul.json()["errors"] == {
        "first_name": [
            "Remove the invisible control character (U+0000); only letters, digits, punctuation and spaces are allowed."
        ]
    }
    assert list(vtab.json()["errors"]) == ["last_name"]
    assert surrogate.json()["errors"] == {
        "role": ["This text is not valid UTF-8; send it again as UTF-8 text."]
    }
    assert not Contact.objects.exists()


def test_a_contact_id_past_64_bits_is_refused_not_a_500(client, headers):
    sequence = Sequence.objects.create(name="Welcome")

    response = client.post(
        f"/api/v1/sequences/{sequence.pk}/enrollments",
        json.dumps({"contact_ids": [2**70]}),
        content_type="application/json",
        **headers,
    )

    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"] == {"contact_ids.0": ["At most 9223372036854775807."]}


def test_an_email_list_item_with_a_line_break_is_one_address_and_is_refused(client, headers):
    sequence = Sequence.objects.create(name="Welcome")
    Contact.objects.create(email="a@example.com")
    Contact.objects.create(email="b@example.com")
    url = f"/api/v1/sequences/{sequence.pk}/enrollments"

    broken = client.post(
        url,
        json.dumps({"emails": ["a@example.com\nb@example.com"]}),
        content_type="application/json",
        **headers,
    )
    comma = client.post(
        url,
        json.dumps({"emails": ["a@example.com,b@example.com"]}),
        content_type="application/json",
        **headers,
    )

    assert broken.status_code == 422
    assert broken.json()["errors"] == {
        "emails.0": ["Line breaks are not allowed here; write it on one line."]
    }
    assert comma.status_code == 200
    assert comma.json() == {
        "enrolled": 0,
        "skipped": 0,
        "unknown_contact_ids": [],
        "unknown_emails": ["a@example.com,b@example.com"],
    }
    assert not Enrollment.objects.exists()


def test_a_body_that_is_not_json_gets_the_error_shape(client, headers):
    garbage = post_lead(client, headers, "email=ana@example.com", content_type="application/json")
    not_utf8 = post_lead(client, headers, b'{"email": "\xff\xfe@example.com"}')

    assert (garbage.status_code, not_utf8.status_code) == (400, 400)
    assert garbage.json() == {
        "code": "malformed",
        "message": "The body is not valid JSON (UTF-8).",
        "errors": {},
    }
    assert not_utf8.json()["code"] == "malformed"


def test_a_body_of_another_content_type_is_415(client, headers):
    response = post_lead(
        client, headers, "email=ana@example.com", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert response.json() == {
        "code": "unsupported_media_type",
        "message": "Send the body as application/json.",
        "errors": {},
    }


def test_a_body_of_the_wrong_shape_is_422_in_the_error_shape(client, headers):
    response = post_lead(
        client, headers, json.dumps({"email": ["ana@example.com"], "first_name": "x" * 101})
    )

    assert response.status_code == 422
    assert response.json() == {
        "code": "invalid",
        "message": "Some fields are not valid; see errors.",
        "errors": {"email": ["Send text here."], "first_name": ["At most 100 characters."]},
    }


def test_query_parameters_are_bounded(client, headers):
    too_many = client.get("/api/v1/leads/?limit=201", **headers)
    huge = client.get("/api/v1/leads/?after=zzzzzzzzzzzzz", **headers)
    nul = client.get("/api/v1/leads/?email=a%00@example.com", **headers)
    big_id = client.get(f"/api/v1/leads/{2**70}", **headers)

    assert [r.status_code for r in (too_many, huge, nul, big_id)] == [422, 422, 422, 422]
    assert too_many.json()["errors"] == {"limit": ["At most 200."]}
    assert list(nul.json()["errors"]) == ["email"]
    assert list(big_id.json()["errors"]) == ["lead_id"]


def test_no_key_is_401_in_the_error_shape_with_a_challenge(client):
    response = client.get("/api/v1/leads/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {
        "code": "unauthorized",
        "message": "Send a valid API key: Authorization: Bearer <key>.",
        "errors": {},
    }


def test_a_key_with_a_nul_is_401_not_a_database_error(client):
    response = client.get("/api/v1/leads/", HTTP_AUTHORIZATION="Bearer lm_\x00abc_def")

    assert response.status_code == 401


def test_a_key_without_the_scope_is_403_in_the_error_shape(client):
    _key, secret = api_key_create(name="bi", scopes=["leads:read"])

    response = post_lead(
        client, {"HTTP_AUTHORIZATION": f"Bearer {secret}"}, json.dumps({"email": "a@example.com"})
    )

    assert response.status_code == 403
    assert response.json() == {
        "code": "forbidden",
        "message": "This API key lacks the scope(s): leads:write.",
        "errors": {},
    }


def test_an_unknown_api_path_is_a_json_404(client, headers):
    unknown = client.get("/api/v2/whatever", **headers)
    no_slash = client.post("/api/v1/leads", "{}", content_type="application/json", **headers)

    assert unknown.status_code == 404
    assert unknown.json() == {
        "code": "not_found",
        "message": "No API endpoint at this address; see /api/docs.",
        "errors": {},
    }
    assert no_slash.status_code == 404
    assert (
        no_slash.json()["message"]
        == "No API endpoint at this address; did you mean /api/v1/leads/?"
    )


def test_a_post_to_an_unknown_api_path_is_a_json_404_not_a_csrf_page(headers):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        "/api/v1/sequences/x/enrollments", "{}", content_type="application/json", **headers
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_method_the_address_does_not_serve_is_a_json_405(client, headers):
    response = client.delete("/api/v1/leads/", **headers)

    assert response.status_code == 405
    assert sorted(response["Allow"].split(", ")) == ["GET", "POST"]
    assert response.json()["code"] == "method_not_allowed"


def test_a_body_over_the_upload_limit_is_413(client, headers, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = post_lead(
        client, headers, json.dumps({"email": "a@example.com", "first_name": "x" * 2000})
    )

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_errors_are_in_the_request_language(client, headers):
    response = client.get("/api/v1/leads/?limit=0", HTTP_ACCEPT_LANGUAGE="pt-br", **headers)

    assert response.status_code == 422
    assert response.json()["message"] == "Alguns campos não são válidos; veja errors."
    assert response.json()["errors"] == {"limit": ["No mínimo 1."]}


def test_every_operation_documents_its_errors_in_the_one_shape(client):
    schema = client.get("/api/openapi.json").json()

    documented = {
        (method.upper(), path): sorted(
            int(code) for code in operation["responses"] if int(code) >= 400
        )
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }

    assert documented == {
        ("GET", "/api/health"): [],
        ("POST", "/api/v1/leads/"): [400, 401, 403, 409, 413, 415, 422, 429, 503],
        ("GET", "/api/v1/leads/"): [401, 403, 404, 409, 422, 429],
        ("GET", "/api/v1/leads/{lead_id}"): [401, 403, 404, 422, 429],
        ("DELETE", "/api/v1/leads/{lead_id}"): [401, 403, 404, 422, 429],
        ("GET", "/api/v1/owners/"): [401, 403, 422, 429],
        ("GET", "/api/v1/analytics/funnel"): [400, 401, 403, 422, 429],
        ("GET", "/api/v1/analytics/experiments/{experiment_id}"): [401, 403, 404, 422, 429],
        ("GET", "/api/v1/analytics/sequences/{sequence_id}"): [401, 403, 404, 422, 429],
        ("GET", "/api/v1/analytics/broadcasts/{broadcast_id}"): [401, 403, 404, 422, 429],
        ("GET", "/api/v1/analytics/quality"): [400, 401, 403, 422, 429],
        ("GET", "/api/v1/analytics/pages"): [400, 401, 403, 422, 429],
        ("GET", "/api/v1/analytics/forms/{slug}"): [400, 401, 403, 404, 422, 429],
        ("POST", "/api/v1/analytics/spend"): [400, 401, 403, 409, 413, 415, 422, 429],
        ("POST", "/api/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/replay"): [
            401,
            403,
            404,
            409,
            422,
            429,
        ],
        ("POST", "/api/v1/webhook-endpoints/{endpoint_id}/deliveries/replay-failed"): [
            400,
            401,
            403,
            404,
            409,
            413,
            415,
            422,
            429,
        ],
        ("POST", "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret"): [
            401,
            403,
            404,
            409,
            422,
            429,
        ],
        ("POST", "/api/v1/sequences/{sequence_id}/enrollments"): [
            400,
            401,
            403,
            404,
            409,
            413,
            415,
            422,
            429,
        ],
        ("PATCH", "/api/v1/leads/{lead_id}"): [400, 401, 403, 404, 409, 413, 415, 422, 429],
        ("POST", "/api/v1/leads/{lead_id}/merge"): [400, 401, 403, 404, 409, 413, 415, 422, 429],
        ("POST", "/api/v1/leads/{lead_id}/stage"): [400, 401, 403, 404, 409, 413, 415, 422, 429],
        ("POST", "/api/v1/leads/batch"): [400, 401, 403, 409, 413, 415, 422, 429],
        ("GET", "/api/v1/leads/{lead_id}/timeline"): [401, 403, 404, 422, 429],
        ("GET", "/api/v1/leads/{lead_id}/consents"): [401, 403, 404, 422, 429],
        ("GET", "/api/v1/leads/{lead_id}/scores"): [401, 403, 404, 422, 429],
        ("GET", "/api/v1/leads/{lead_id}/enrollments"): [401, 403, 404, 422, 429],
        ("GET", "/api/v1/sequences/"): [401, 403, 422, 429],
        ("POST", "/api/v1/sequences/{sequence_id}/unenrollments"): [
            400,
            401,
            403,
            404,
            409,
            413,
            415,
            422,
            429,
        ],
        ("GET", "/api/v1/submissions/"): [401, 403, 422, 429],
        ("GET", "/api/v1/submissions/{submission_id}"): [401, 403, 404, 422, 429],
        ("POST", "/api/v1/events/"): [400, 401, 403, 404, 409, 413, 415, 422, 429],
        ("GET", "/api/v1/segments/"): [401, 403, 422, 429],
        ("GET", "/api/v1/segments/{segment_id}"): [401, 403, 404, 409, 422, 429],
        ("GET", "/api/v1/segments/{segment_id}/members"): [401, 403, 404, 409, 422, 429],
        ("POST", "/api/v1/segments/{segment_id}/members"): [
            400,
            401,
            403,
            404,
            409,
            413,
            415,
            422,
            429,
        ],
        ("POST", "/api/v1/segments/{segment_id}/members/remove"): [
            400,
            401,
            403,
            404,
            409,
            413,
            415,
            422,
            429,
        ],
        ("POST", "/api/v1/outcomes/"): [400, 401, 403, 404, 409, 413, 415, 422, 429],
        ("GET", "/api/v1/activities/"): [401, 403, 422, 429],
        ("POST", "/api/v1/activities/"): [400, 401, 403, 404, 409, 413, 415, 422, 429],
        ("PATCH", "/api/v1/activities/{activity_id}"): [
            400,
            401,
            403,
            404,
            409,
            413,
            415,
            422,
            429,
        ],
        ("POST", "/api/v1/webhook-endpoints"): [400, 401, 403, 409, 413, 415, 422, 429],
        ("GET", "/api/v1/webhook-endpoints"): [401, 403, 429],
        ("GET", "/api/v1/webhook-endpoints/{endpoint_id}"): [401, 403, 404, 422, 429],
        ("PATCH", "/api/v1/webhook-endpoints/{endpoint_id}"): [
            400,
            401,
            403,
            404,
            409,
            413,
            415,
            422,
            429,
        ],
        ("DELETE", "/api/v1/webhook-endpoints/{endpoint_id}"): [401, 403, 404, 422, 429],
        ("GET", "/api/v1/webhook-endpoints/{endpoint_id}/deliveries"): [401, 403, 404, 422, 429],
        ("POST", "/api/v1/webhook-endpoints/{endpoint_id}/test"): [401, 403, 404, 409, 422, 429],
    }
    error = schema["components"]["schemas"]["Error"]
    assert sorted(error["properties"]) == ["code", "errors", "message"]
