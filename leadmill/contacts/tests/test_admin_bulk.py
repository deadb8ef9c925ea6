"""Bulk actions on the leads listing (contacts/admin_bulk.py): the selection (leads ticked or
all that match the listing's filters and search), the confirmation, the work done in the
request or in background chunks, and contacts' own actions (stage, export)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.http import urlencode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .. import admin_bulk
from ..models import Contact, StageChange
from .bulk import LISTING, bulk_url
from .factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    )
    return client


def stages() -> dict[str, str]:
    return dict(Contact.objects.values_list("email", "lifecycle_stage"))


def test_the_listing_offers_a_checkbox_per_lead_and_the_bulk_actions(staff):
    lead = ContactFactory(email="ana@example.com")

    html = staff.get(LISTING).content.decode()

    assert f'data-object-id="{lead.pk}"' in html
    assert f'aria-describedby="lead_{lead.pk}_title"' in html
    assert f'id="lead_{lead.pk}_title"' in html
    for action in ("enrol", "add_to_list", "assign_owner", "change_stage", "export"):
        assert f"/admin/bulk/contacts/contact/{action}/" in html


def test_the_confirmation_says_how_many_leads_and_names_some(staff):
    first, second = ContactFactory(email="ana@example.com"), ContactFactory(email="bia@example.com")
    ContactFactory(email="not-ticked@example.com")

    response = staff.get(bulk_url("change_stage", first.pk, second.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert "2 leads are selected." in html
    assert "ana@example.com" in html and "bia@example.com" in html
    assert "not-ticked@example.com" not in html
    assert stages() == {
        "ana@example.com": "lead",
        "bia@example.com": "lead",
        "not-ticked@example.com": "lead",
    }  # nothing changes before the marketer confirms


def test_changing_the_stage_of_the_leads_ticked_keeps_each_change_in_its_history(staff):
    first, second = ContactFactory(email="ana@example.com"), ContactFactory(email="bia@example.com")
    ContactFactory(email="not-ticked@example.com")

    response = staff.post(bulk_url("change_stage", first.pk, second.pk), {"to_stage": "mql"})

    assert response.status_code == 302
    assert response.url == LISTING
    assert stages() == {
        "ana@example.com": "mql",
        "bia@example.com": "mql",
        "not-ticked@example.com": "lead",
    }
    causes = set(
        StageChange.objects.filter(to_stage="mql").values_list("contact_id", "to_stage", "cause")
    )
    assert causes == {
        (first.pk, "mql", "changed in bulk in the back office (boss)"),
        (second.pk, "mql", "changed in bulk in the back office (boss)"),
    }


def test_a_stage_that_is_not_one_is_refused_with_the_form_error_and_nothing_changes(staff):
    lead = ContactFactory(email="ana@example.com")

    response = staff.post(bulk_url("change_stage", lead.pk), {"to_stage": "king"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert stages() == {"ana@example.com": "lead"}


def test_select_all_acts_on_every_lead_the_filters_and_search_match_on_every_page(staff):
    # given 60 warm leads from Brazil, more than a page of 50, and others that do not match
    ContactFactory.create_batch(60, temperature="warm", company_name="Acme Brasil")
    ContactFactory(email="cold@example.com", temperature="cold", company_name="Acme Brasil")
    ContactFactory(email="warm-elsewhere@example.com", temperature="warm", company_name="Other")

    # when "all that match" temperature=warm and "Acme" are moved to MQL
    response = staff.post(
        bulk_url("change_stage", "all", temperature="warm", q="Acme"), {"to_stage": "mql"}
    )

    # then exactly those 60 moved
    assert response.status_code == 302
    assert Contact.objects.filter(lifecycle_stage="mql").count() == 60
    assert stages()["cold@example.com"] == "lead"
    assert stages()["warm-elsewhere@example.com"] == "lead"


def test_a_large_selection_runs_in_background_chunks(
    staff, monkeypatch, django_capture_on_commit_callbacks
):
    # given a selection larger than what is done in the request
    monkeypatch.setattr(admin_bulk, "INLINE_LIMIT", 4)
    monkeypatch.setattr(admin_bulk, "CHUNK", 3)
    ContactFactory.create_batch(7)

    # when all are moved to SQL
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = staff.post(bulk_url("change_stage", "all"), {"to_stage": "sql"})

    # then the answer says it runs in the background, and nothing moved yet
    assert response.status_code == 302
    assert len(callbacks) == 3  # 3 + 3 + 1 ids
    assert not Contact.objects.filter(lifecycle_stage="sql").exists()
    messages = [str(m).strip() for m in response.wsgi_request._messages]
    assert messages == [
        "7 leads are being changed in the background; reload the listing in a minute to see them."
    ]

    # and when the tasks run (Huey is immediate in tests), all seven moved
    for callback in callbacks:
        callback()
    assert Contact.objects.filter(lifecycle_stage="sql").count() == 7


def test_a_retried_chunk_changes_nothing_twice(staff):
    from ..tasks import leads_bulk_act

    lead = ContactFactory()
    user = UserFactory()

    for _attempt in range(2):
        leads_bulk_act.call_local(
            action_type="change_stage",
            contact_ids=[lead.pk],
            params={"to_stage": "mql"},
            actor_id=user.pk,
        )

    assert StageChange.objects.filter(contact=lead, to_stage="mql").count() == 1


def test_exporting_the_leads_ticked_downloads_them_and_no_other(staff):
    first, second = ContactFactory(email="ana@example.com"), ContactFactory(email="bia@example.com")
    ContactFactory(email="not-ticked@example.com")

    response = staff.get(bulk_url("export", first.pk, second.pk), follow=True)

    body = b"".join(response.streaming_content).decode()
    assert response["Content-Disposition"].startswith('attachment; filename="leads')
    assert "ana@example.com" in body and "bia@example.com" in body
    assert "not-ticked@example.com" not in body


def test_exporting_all_that_match_keeps_the_listing_filters(staff):
    ContactFactory(email="warm@example.com", temperature="warm")
    ContactFactory(email="cold@example.com", temperature="cold")

    response = staff.get(bulk_url("export", "all", temperature="warm"), follow=True)

    body = b"".join(response.streaming_content).decode()
    assert "warm@example.com" in body
    assert "cold@example.com" not in body


def test_someone_who_may_only_view_leads_cannot_change_them_in_bulk(client):
    from django.contrib.auth.models import Permission

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="view_contact"),
    )
    client.force_login(viewer)
    lead = ContactFactory(email="ana@example.com")

    response = client.post(bulk_url("change_stage", lead.pk), {"to_stage": "mql"})

    assert response.status_code == 302
    assert response.url == reverse("wagtailadmin_home")
    assert stages() == {"ana@example.com": "lead"}


@pytest.mark.parametrize("ids", [["x"], ["-1"], ["1e9"], [""], ["all", "7"]])
def test_hostile_ids_select_nobody_or_what_matches_never_fail(staff, ids):
    ContactFactory(email="ana@example.com")

    response = staff.get(bulk_url("change_stage", *ids))

    assert response.status_code == 200


def test_exporting_without_a_selection_exports_nobody_and_says_so(staff):
    ContactFactory(email="ana@example.com")

    response = staff.get(reverse("wagtail_bulk_action", args=["contacts", "contact", "export"]))

    assert response.status_code == 302
    assert response.url == LISTING
    assert [str(m).strip() for m in response.wsgi_request._messages] == [
        "Tick the leads to export first."
    ]


# Query strings as a hostile or broken client sends them: any text for the ids and for the
# listing's filters the "all" selection reads.
hostile_text = st.text(max_size=30)
hostile_query = st.lists(
    st.tuples(
        st.sampled_from(
            ["id", "segment", "temperature", "lifecycle_stage", "q", "created_at_after"]
        ),
        st.one_of(hostile_text, st.just("all"), st.integers(-(2**63), 2**63).map(str)),
    ),
    max_size=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(query=hostile_query, stage=hostile_text)
def test_hostile_query_strings_and_forms_get_an_answer_never_a_server_error(staff, query, stage):
    url = reverse("wagtail_bulk_action", args=["contacts", "contact", "change_stage"])
    full = url + "?" + urlencode([*query, ("next", LISTING)])

    shown = staff.get(full)
    sent = staff.post(full, {"to_stage": stage})
    exported = staff.get(full.replace("change_stage", "export"))

    assert shown.status_code == 200
    assert sent.status_code in (200, 302)
    assert exported.status_code == 302
