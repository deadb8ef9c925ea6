"""Back-office screens of sequences: listing, editor, "enrol leads", the lead's panel
(leadmill/nurture/admin_sequences.py)."""

import pytest
from django.urls import reverse
from wagtail.test.utils.form_data import nested_form_data, streamfield

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.segments.tests.factories import StaticSegmentFactory

from ..admin_sequences import ENROL_URL_NAME
from ..models import Enrollment, Sequence
from .engine_factories import sequence_with, step

pytestmark = pytest.mark.django_db


def wait_sequence(**fields):
    return sequence_with(step("wait", "pause", days=1), **fields)


def test_the_listing_shows_who_is_in_each_sequence_now(admin_client):
    sequence = wait_sequence(name="Onboarding")
    for contact in ContactFactory.create_batch(2):
        Enrollment.objects.create(
            sequence=sequence, contact=contact, enrolled_at=sequence.created_at
        )

    response = admin_client.get(reverse(Sequence.snippet_viewset.get_url_name("list")))

    assert response.status_code == 200
    assert "Onboarding" in response.content.decode()
    assert [(s.pk, s.active_count) for s in response.context["object_list"]] == [(sequence.pk, 2)]


def test_the_editor_and_the_add_form_open(admin_client):
    sequence = wait_sequence()

    edit = admin_client.get(
        reverse(Sequence.snippet_viewset.get_url_name("edit"), args=[sequence.pk])
    )
    add = admin_client.get(reverse(Sequence.snippet_viewset.get_url_name("add")))

    assert (edit.status_code, add.status_code) == (200, 200)
    assert f'href="{reverse(ENROL_URL_NAME, args=[sequence.pk])}"' in edit.content.decode()


def test_the_editor_offers_no_leave_on_reply_option_since_replies_are_not_read(admin_client):
    # Leadmill reads no inbound mail: an option to leave on a reply would promise nothing.
    sequence = wait_sequence()

    edit = admin_client.get(
        reverse(Sequence.snippet_viewset.get_url_name("edit"), args=[sequence.pk])
    )

    page = edit.content.decode()
    assert edit.status_code == 200
    assert "exit_on_reply" not in page
    assert "replies" not in page
    assert "exit_on_reply" not in {field.name for field in Sequence._meta.get_fields()}


def test_enrolling_a_segment_and_pasted_addresses_follows_the_rules(admin_client):
    sequence = wait_sequence()
    on_list, pasted, already = (
        ContactFactory(),
        ContactFactory(email="pasted@example.com"),
        ContactFactory(),
    )
    Enrollment.objects.create(sequence=sequence, contact=already, enrolled_at=sequence.created_at)
    segment = StaticSegmentFactory(members=[on_list, already])

    response = admin_client.post(
        reverse(ENROL_URL_NAME, args=[sequence.pk]),
        {"segment": segment.pk, "emails": "Pasted@Example.com, nobody@example.com"},
    )

    assert response.status_code == 302
    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == {
        on_list.pk,
        pasted.pk,
        already.pk,
    }
    texts = [str(m) for m in response.wsgi_request._messages]
    assert texts[0] == "Enrolled 2 of 3 leads (the others are or were enrolled already)."
    assert texts[-1] == "No lead has these addresses: nobody@example.com"


def test_enrolling_nobody_asks_for_a_segment_or_addresses(admin_client):
    sequence = wait_sequence()

    response = admin_client.post(reverse(ENROL_URL_NAME, args=[sequence.pk]), {"emails": " "})

    assert response.status_code == 200
    assert "Choose a segment or paste email addresses." in response.content.decode()
    assert Enrollment.objects.count() == 0


def test_the_lead_page_lists_its_sequences_and_offers_to_enrol_it(admin_client):
    inside, other = wait_sequence(name="Nurture A"), wait_sequence(name="Nurture B")
    left = wait_sequence(name="Nurture C")
    contact = ContactFactory(email="ana@example.com")
    Enrollment.objects.create(
        sequence=inside, contact=contact, enrolled_at=inside.created_at, step_id=""
    )
    Enrollment.objects.create(
        sequence=left,
        contact=contact,
        enrolled_at=left.created_at,
        state="exited",
        ended_at=left.created_at,
        exit_reason="reached an exit stage: sql",
    )

    response = admin_client.get(reverse("leads:inspect", args=[contact.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Nurture A" in page
    assert "reached an exit stage: Sales qualified (SQL)" in page
    assert f'href="{reverse(ENROL_URL_NAME, args=[other.pk])}?emails=ana%40example.com"' in page


def editor_post(admin_client, sequence, steps, **fields):
    """POST the editor with ``steps`` = [(type, value, id or "")]."""
    data = nested_form_data(
        {
            "name": sequence.name,
            "is_active": "on",
            "trigger": "manual",
            "reenrol": "never",
            "holdout_percent": "0",
            "steps": streamfield([(kind, value) for kind, value, _id in steps]),
            **{name: value for name, value in fields.items() if not isinstance(value, list)},
        }
    )
    data.update({name: value for name, value in fields.items() if isinstance(value, list)})
    for index, (_kind, _value, step_id) in enumerate(steps):
        data[f"steps-{index}-id"] = step_id
    return admin_client.post(
        reverse(Sequence.snippet_viewset.get_url_name("edit"), args=[sequence.pk]), data
    )


def wait_value(label):
    return {
        "label": label,
        "days": "1",
        "hours": "0",
        "minutes": "0",
        "window_start": "",
        "window_end": "",
    }


def test_removing_a_step_in_the_editor_moves_the_leads_at_it_to_the_next_step(admin_client):
    first, second, last = step("wait", "a", days=1), step("wait", "b", days=1), step("end", "c")
    sequence = sequence_with(first, second, last)
    contact = ContactFactory()
    enrollment = Enrollment.objects.create(
        sequence=sequence, contact=contact, enrolled_at=sequence.created_at, step_id=second["id"]
    )

    response = editor_post(
        admin_client,
        sequence,
        [("wait", wait_value("a"), first["id"]), ("end", {"label": "c"}, last["id"])],
    )

    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.step_id == last["id"]


def test_a_branch_to_a_label_no_step_has_is_refused_with_a_clear_message(admin_client):
    sequence = sequence_with(step("end", "done"))
    branch = {
        "label": "",
        "condition": "stage",
        "step_label": "",
        "value": "mql",
        "segment": "",
        "then_go_to": "nowhere",
        "else_go_to": "",
    }

    response = editor_post(
        admin_client, sequence, [("branch", branch, ""), ("end", {"label": "done"}, "")]
    )

    assert response.status_code == 200
    (error,) = response.context["form"].errors.as_data()["steps"]
    assert error.block_errors[0].messages == ["No step is labelled “nowhere”."]


def test_an_update_step_to_an_unknown_stage_is_refused_with_the_stages_to_use(admin_client):
    sequence = sequence_with(step("end"))
    update = {"label": "", "field": "lifecycle_stage", "value": "qualified"}

    response = editor_post(admin_client, sequence, [("update", update, "")])

    (error,) = response.context["form"].errors.as_data()["steps"]
    assert error.block_errors[0].block_errors["value"].messages == [
        "Use one of: lead, mql, sql, customer, disqualified."
    ]


def test_the_editor_sets_a_holdout_share_of_at_most_half(admin_client):
    sequence = sequence_with(step("end"))
    end = [("end", {"label": ""}, "")]

    saved = editor_post(admin_client, sequence, end, holdout_percent="10")
    refused = editor_post(admin_client, sequence, end, holdout_percent="60")

    assert saved.status_code == 302
    sequence.refresh_from_db()
    assert sequence.holdout_percent == 10
    assert refused.status_code == 200
    assert refused.context["form"].errors["holdout_percent"] == [
        "Ensure this value is less than or equal to 50."
    ]


def test_exit_stages_are_ticked_and_a_trigger_needs_its_own_field(admin_client):
    sequence = sequence_with(step("end"))
    end = [("end", {"label": ""}, "")]

    saved = editor_post(admin_client, sequence, end, exit_stages=["sql", "customer"])
    refused = editor_post(admin_client, sequence, end, trigger="form")

    assert saved.status_code == 302
    sequence.refresh_from_db()
    assert sequence.exit_stages == ["sql", "customer"]
    assert refused.status_code == 200
    assert refused.context["form"].errors["trigger_form"] == ["Choose the form."]
