"""The leads back office: listing, filters, search, export, detail page, duplicates review."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leadmill.capture.models import Submission
from leadmill.capture.tests.factories import FormFactory
from leadmill.consent.models import Consent
from leadmill.consent.services import purpose_ensure
from leadmill.core.setup import groups_ensure

from ..models import Contact, ContactMerge, LifecycleStage, PossibleDuplicate, StageChange
from ..services import contact_stage_change
from .factories import CompanyFactory, ContactFactory, PossibleDuplicateFactory, UserFactory

pytestmark = pytest.mark.django_db

LEADS = "/admin/leads/"
DUPLICATES = "/admin/leads/duplicates/"


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")


@pytest.fixture
def staff(client, superuser):
    client.force_login(superuser)
    return client


def export_rows(response) -> list[dict[str, str]]:
    content = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(content)))


# --- listing, filters, search, export ---------------------------------------------------------


def test_the_leads_listing_shows_each_lead_with_its_company_stage_and_source(staff):
    ContactFactory(
        email="ana@acme.example",
        first_name="Ana",
        last_name="Silva",
        company_name="ACME",
        first_source="instagram",
    )

    response = staff.get(LEADS)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Ana Silva · ana@acme.example" in html
    assert "ACME" in html
    assert "instagram" in html
    assert reverse("leads:inspect", args=[Contact.objects.get().pk]) in html


def test_the_leads_listing_is_newest_first(staff):
    old = ContactFactory(email="old@example.com")
    new = ContactFactory(email="new@example.com")
    Contact.objects.filter(pk=old.pk).update(created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))

    html = staff.get(LEADS).content.decode()

    assert html.index(new.email) < html.index(old.email)


def test_filtering_by_lifecycle_stage_shows_only_leads_at_that_stage(staff):
    mql = ContactFactory(email="mql@example.com")
    contact_stage_change(contact=mql, to_stage=LifecycleStage.MQL, cause="test")
    ContactFactory(email="lead@example.com")

    response = staff.get(LEADS, {"lifecycle_stage": "mql"})

    assert response.status_code == 200
    assert [c.email for c in response.context["object_list"]] == ["mql@example.com"]


def test_filtering_by_temperature_and_first_source(staff):
    ContactFactory(email="hot-ig@example.com", temperature="hot", first_source="instagram")
    ContactFactory(email="hot-google@example.com", temperature="hot", first_source="google")
    ContactFactory(email="cold-ig@example.com", temperature="cold", first_source="instagram")

    response = staff.get(LEADS, {"temperature": "hot", "first_source": "instagram"})

    assert [c.email for c in response.context["object_list"]] == ["hot-ig@example.com"]


def test_filtering_by_form_shows_leads_with_a_submission_of_that_form_once(staff):
    ebook, webinar = FormFactory(name="Ebook"), FormFactory(name="Webinar")
    reader = ContactFactory(email="reader@example.com")
    Submission.objects.create(form=ebook, data={}, contact=reader)
    Submission.objects.create(form=ebook, data={}, contact=reader)
    Submission.objects.create(
        form=webinar, data={}, contact=ContactFactory(email="viewer@example.com")
    )

    response = staff.get(LEADS, {"form": ebook.pk})

    assert [c.email for c in response.context["object_list"]] == ["reader@example.com"]


def test_filtering_by_creation_date_range(staff):
    inside = ContactFactory(email="march@example.com")
    outside = ContactFactory(email="may@example.com")
    Contact.objects.filter(pk=inside.pk).update(
        created_at=dt.datetime(2025, 3, 10, 15, tzinfo=dt.UTC)
    )
    Contact.objects.filter(pk=outside.pk).update(created_at=dt.datetime(2025, 5, 1, tzinfo=dt.UTC))

    response = staff.get(LEADS, {"created_at_from": "2025-03-01", "created_at_to": "2025-03-31"})

    assert [c.email for c in response.context["object_list"]] == ["march@example.com"]


def test_search_matches_every_word_across_name_fields(staff):
    ContactFactory(email="a1@example.com", first_name="Ana", last_name="Silva")
    ContactFactory(email="a2@example.com", first_name="Ana", last_name="Souza")

    response = staff.get(LEADS, {"q": "ana silva"})

    assert [c.email for c in response.context["object_list"]] == ["a1@example.com"]


def test_search_finds_a_phone_typed_in_a_local_format_and_an_email_typed_with_capitals(staff):
    ContactFactory(email="phone@example.com", phone="+12015550123")
    ContactFactory(email="other@example.com", phone="+14155552671")

    by_phone = staff.get(LEADS, {"q": "(201) 555-0123"})
    by_email = staff.get(LEADS, {"q": " Phone@Example.com"})

    assert [c.email for c in by_phone.context["object_list"]] == ["phone@example.com"]
    assert [c.email for c in by_email.context["object_list"]] == ["phone@example.com"]


def test_the_csv_export_contains_the_filtered_leads(staff):
    ContactFactory(
        email="export@example.com", first_name="Eva", first_source="newsletter", temperature="warm"
    )
    ContactFactory(email="filtered-out@example.com", temperature="cold")

    response = staff.get(LEADS, {"temperature": "warm", "export": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="leads.csv"' in response["Content-Disposition"]
    rows = export_rows(response)
    assert [
        (r["Email"], r["First name"], r["First touch source"], r["Temperature"]) for r in rows
    ] == [("export@example.com", "Eva", "newsletter", "Warm")]


def test_the_csv_export_neutralises_values_a_spreadsheet_would_run_as_formulas(staff):
    ContactFactory(
        email="x@example.com",
        first_name='=HYPERLINK("http://evil.example","click")',
        phone="+12015550123",
    )

    rows = export_rows(staff.get(LEADS, {"export": "csv"}))

    assert rows[0]["First name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert rows[0]["Phone"] == "+12015550123"


def test_the_xlsx_export_is_a_spreadsheet(staff):
    ContactFactory(email="sheet@example.com")

    response = staff.get(LEADS, {"export": "xlsx"})

    assert response.status_code == 200
    assert (
        response["Content-Type"]
        == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    content = b"".join(response.streaming_content)
    assert content.startswith(b"PK")


def test_leads_are_not_created_in_the_back_office(staff):
    listing = staff.get(LEADS)
    response = staff.post(LEADS + "new/", {"email": "typed@example.com", "temperature": "cold"})

    assert "Add lead" not in listing.content.decode()
    assert response.status_code == 302
    assert response["Location"] == reverse("wagtailadmin_home")  # Wagtail's answer to "not allowed"
    assert Contact.objects.count() == 0


def test_leads_are_not_deleted_in_the_back_office(staff):
    contact = ContactFactory()

    response = staff.post(reverse("leads:delete", args=[contact.pk]))

    assert response.status_code == 302
    assert Contact.objects.filter(pk=contact.pk).exists()


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_listings_cost_the_same_queries_for_few_or_many_rows(staff):
    form = FormFactory()

    def add_leads(count):
        for _ in range(count):
            contact = ContactFactory(company=CompanyFactory())
            Submission.objects.create(form=form, data={"email": contact.email}, contact=contact)

    add_leads(2)
    count_queries(staff, LEADS)  # the first listing creates the scoring settings' row
    few = [count_queries(staff, url) for url in (LEADS, "/admin/submissions/")]
    add_leads(20)
    many = [count_queries(staff, url) for url in (LEADS, "/admin/submissions/")]

    assert many == few


# --- the lead's page ------------------------------------------------------------------------


def test_the_lead_page_shows_its_fields_source_consent_stage_history_and_timeline(staff):
    contact = ContactFactory(
        email="page@example.com",
        first_name="Paula",
        first_source="instagram",
        first_medium="social",
        first_campaign="spring-sale",
        last_source="google",
        last_medium="cpc",
        first_touch_at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC),
    )
    contact_stage_change(contact=contact, to_stage=LifecycleStage.SQL, cause="demo requested")
    form = FormFactory(name="Pricing guide")
    submission = Submission.objects.create(
        form=form,
        data={"email": "page@example.com"},
        contact=contact,
        status=Submission.Status.ACCEPTED,
    )
    purpose = purpose_ensure(key="email-marketing", name="Marketing email", text="Send me emails.")
    Consent.objects.create(
        contact=contact,
        purpose=purpose,
        purpose_text=purpose.current_text,
        granted=True,
        method=Consent.Method.FORM,
        occurred_at=dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC),
        submission_id=submission.pk,
        page_url="https://lp.example/pricing/",
        ip_address="203.0.113.7",
    )

    response = staff.get(reverse("leads:inspect", args=[contact.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "page@example.com" in html
    assert "spring-sale" in html and "instagram" in html and "cpc" in html  # first and last touch
    assert "Marketing email" in html and "Agreed" in html and "v1" in html  # consent state
    assert "https://lp.example/pricing/" in html and "203.0.113.7" in html  # consent ledger proof
    assert "demo requested" in html  # stage history
    assert "Sales qualified (SQL)" in html
    assert "Submitted the form “Pricing guide”" in html  # timeline (from capture)
    assert [e.kind for e in response.context["timeline"]].count("submission") == 1
    assert list(response.context["stage_history"].values_list("to_stage", flat=True)) == [
        "sql",
        "lead",
    ]


def test_the_lead_page_says_when_a_purpose_has_no_answer(staff):
    purpose_ensure(key="partners", name="Share with partners", text="Share my details.")
    contact = ContactFactory()

    html = staff.get(reverse("leads:inspect", args=[contact.pk])).content.decode()

    assert "Share with partners" in html
    assert "No answer" in html


def test_the_lead_page_of_a_missing_lead_is_404(staff):
    assert staff.get(reverse("leads:inspect", args=[999999])).status_code == 404


def test_moving_a_lead_to_another_stage_from_its_page_keeps_the_change_with_its_cause(
    staff, superuser
):
    contact = ContactFactory()

    response = staff.post(
        reverse("leads:stage", args=[contact.pk]),
        {"to_stage": "sql", "cause": "qualified on the call"},
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.lifecycle_stage == "sql"
    change = StageChange.objects.filter(contact=contact).first()
    assert (change.from_stage, change.to_stage, change.actor) == ("lead", "sql", superuser)
    assert change.cause == "qualified on the call (boss)"


def test_a_user_who_may_only_view_leads_cannot_change_their_stage(client):
    user = UserFactory()
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["access_admin", "view_contact"])
    )
    client.force_login(user)
    contact = ContactFactory()

    page = client.get(reverse("leads:inspect", args=[contact.pk]))
    client.post(reverse("leads:stage", args=[contact.pk]), {"to_stage": "customer"})

    assert page.status_code == 200
    assert reverse("leads:stage", args=[contact.pk]) not in page.content.decode()
    contact.refresh_from_db()
    assert contact.lifecycle_stage == "lead"


def test_editing_a_lead_normalises_its_email_and_keeps_the_stage(staff):
    contact = ContactFactory(email="edit@example.com", first_name="Ed")
    contact_stage_change(contact=contact, to_stage=LifecycleStage.MQL, cause="score")

    response = staff.post(
        reverse("leads:edit", args=[contact.pk]),
        {
            "first_name": "Edward",
            "last_name": "",
            "email": " Edward@Example.COM ",
            "phone": "(201) 555-0123",
            "company_name": "",
            "role": "",
            "company_size": "",
            "segment": "",
            "country": "",
            "time_zone": "",
            "language": "",
            "owner": "",
            "temperature": "warm",
            "outcome": "",
            "outcome_value": "",
            "outcome_at": "",
            "outcome_reason": "",
        },
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.email, contact.phone, contact.first_name) == (
        "edward@example.com",
        "+12015550123",
        "Edward",
    )
    assert contact.lifecycle_stage == "mql"


def test_editing_a_lead_with_another_leads_email_is_refused(staff):
    ContactFactory(email="taken@example.com")
    contact = ContactFactory(email="mine@example.com")

    response = staff.post(
        reverse("leads:edit", args=[contact.pk]),
        {
            "first_name": "",
            "last_name": "",
            "email": "TAKEN@example.com",
            "phone": "",
            "temperature": "cold",
            "outcome": "",
        },
    )

    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    contact.refresh_from_db()
    assert contact.email == "mine@example.com"


# --- possible duplicates ---------------------------------------------------------------------


def test_the_duplicates_queue_lists_open_pairs_only(staff):
    open_pair = PossibleDuplicateFactory(
        contact=ContactFactory(email="p1@example.com"), other=ContactFactory(email="p2@example.com")
    )
    PossibleDuplicateFactory(
        contact=ContactFactory(email="d1@example.com"),
        other=ContactFactory(email="d2@example.com"),
        resolution=PossibleDuplicate.Resolution.DISMISSED,
    )

    response = staff.get(DUPLICATES)

    assert response.status_code == 200
    assert list(response.context["object_list"]) == [open_pair]
    html = response.content.decode()
    assert reverse("lead_duplicates:review", args=[open_pair.pk]) in html
    assert "d1@example.com" not in html


def test_the_review_page_compares_the_two_leads_side_by_side(staff):
    pair = PossibleDuplicateFactory(
        contact=ContactFactory(email="rui@example.com", first_name="Rui", phone="+12015550123"),
        other=ContactFactory(email="rui@work.example", first_name="Rui", phone="+12015550123"),
    )
    Submission.objects.create(form=FormFactory(), data={}, contact=pair.other)

    response = staff.get(reverse("lead_duplicates:review", args=[pair.pk]))

    assert response.status_code == 200
    rows = {row.label: row for row in response.context["comparison"]}
    assert (rows["Email"].left, rows["Email"].right, rows["Email"].differs) == (
        "rui@example.com",
        "rui@work.example",
        True,
    )
    assert rows["Phone"].differs is False
    assert response.context["right_counts"] == [("Stage changes", 1), ("Submissions", 1)]
    html = response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in html
    assert reverse("lead_duplicates:merge", args=[pair.pk]) in html


def test_merging_through_the_review_keeps_the_chosen_lead_with_both_histories(staff, superuser):
    keep = ContactFactory(email="keep@example.com")
    drop = ContactFactory(email="drop@example.com")
    Submission.objects.create(form=FormFactory(), data={}, contact=drop)
    pair = PossibleDuplicateFactory(contact=keep, other=drop)

    response = staff.post(reverse("lead_duplicates:merge", args=[pair.pk]), {"survivor": keep.pk})

    assert response.status_code == 302
    assert response["Location"] == reverse("leads:inspect", args=[keep.pk])
    assert list(Contact.objects.values_list("email", flat=True)) == ["keep@example.com"]
    assert Submission.objects.get().contact_id == keep.pk
    assert StageChange.objects.filter(contact=keep).count() == 2
    assert ContactMerge.objects.get().actor == superuser
    assert PossibleDuplicate.objects.get(pk=pair.pk).resolution == "merged"
    assert list(staff.get(DUPLICATES).context["object_list"]) == []


def test_merging_with_a_survivor_outside_the_pair_is_refused(staff):
    pair = PossibleDuplicateFactory()
    stranger = ContactFactory()

    response = staff.post(
        reverse("lead_duplicates:merge", args=[pair.pk]), {"survivor": stranger.pk}
    )

    assert response.status_code == 302
    assert Contact.objects.count() == 3
    assert ContactMerge.objects.count() == 0


def test_merge_is_post_only_and_needs_the_csrf_token(superuser):
    pair = PossibleDuplicateFactory()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(superuser)
    url = reverse("lead_duplicates:merge", args=[pair.pk])

    assert browser.get(url).status_code == 405
    assert browser.post(url, {"survivor": pair.contact_id}).status_code == 403
    assert Contact.objects.count() == 2


def test_not_a_duplicate_keeps_both_leads_and_empties_the_queue(staff):
    pair = PossibleDuplicateFactory()

    response = staff.post(reverse("lead_duplicates:dismiss", args=[pair.pk]))

    assert response.status_code == 302
    assert response["Location"] == DUPLICATES
    assert Contact.objects.count() == 2
    assert PossibleDuplicate.objects.get().resolution == PossibleDuplicate.Resolution.DISMISSED
    assert list(staff.get(DUPLICATES).context["object_list"]) == []


def test_the_leads_listing_points_to_the_open_duplicates(staff):
    assert "possible duplicate" not in staff.get(LEADS).content.decode()
    PossibleDuplicateFactory()

    html = staff.get(LEADS).content.decode()

    assert "Review 1 possible duplicate" in html
    assert f'href="{DUPLICATES}"' in html


def test_the_lead_page_links_to_its_open_duplicate_review(staff):
    pair = PossibleDuplicateFactory()

    html = staff.get(reverse("leads:inspect", args=[pair.contact_id])).content.decode()

    assert reverse("lead_duplicates:review", args=[pair.pk]) in html


# --- who may see leads -------------------------------------------------------------------------


@pytest.mark.parametrize("group", ["Sales", "Marketing"])
def test_sales_and_marketing_users_see_leads_and_their_pages(client, group):
    groups_ensure()
    user = UserFactory(groups=[group])
    contact = ContactFactory(email="seen@example.com")
    client.force_login(user)

    listing = client.get(LEADS)
    page = client.get(reverse("leads:inspect", args=[contact.pk]))

    assert listing.status_code == 200
    assert "seen@example.com" in listing.content.decode()
    assert page.status_code == 200
    assert client.get(DUPLICATES).status_code == 200


def test_a_sales_user_can_merge_duplicates(client):
    groups_ensure()
    client.force_login(UserFactory(groups=["Sales"]))
    pair = PossibleDuplicateFactory()

    client.post(reverse("lead_duplicates:merge", args=[pair.pk]), {"survivor": pair.contact_id})

    assert Contact.objects.count() == 1


def test_a_sales_user_edits_leads_but_not_the_custom_field_definitions(client):
    groups_ensure()
    client.force_login(UserFactory(groups=["Sales"]))
    contact = ContactFactory(email="work@example.com")

    edit_lead = client.get(reverse("leads:edit", args=[contact.pk]))
    define_field = client.get("/admin/lead-custom-fields/new/")

    assert edit_lead.status_code == 200
    assert (define_field.status_code, define_field["Location"]) == (
        302,
        reverse("wagtailadmin_home"),
    )


def test_a_back_office_user_without_lead_permissions_is_refused(client):
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(user)
    pair = PossibleDuplicateFactory()

    listing = client.get(LEADS)
    merge = client.post(
        reverse("lead_duplicates:merge", args=[pair.pk]), {"survivor": pair.contact_id}
    )

    assert (listing.status_code, listing["Location"]) == (302, reverse("wagtailadmin_home"))
    assert (merge.status_code, merge["Location"]) == (302, reverse("wagtailadmin_home"))
    assert Contact.objects.count() == 2


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    for url in (LEADS, DUPLICATES, LEADS + "?export=csv"):
        response = client.get(url)

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("wagtailadmin_login"))


def test_the_csv_export_writes_moments_as_people_read_them_under_named_columns(staff, settings):
    # Given a site in São Paulo's time and a lead first touched at 18:23:35.349941 UTC
    settings.TIME_ZONE = "America/Sao_Paulo"
    contact = ContactFactory(email="time@example.com")
    touched = dt.datetime(2026, 12, 6, 18, 23, 35, 349941, tzinfo=dt.UTC)
    Contact.objects.filter(pk=contact.pk).update(first_touch_at=touched, created_at=touched)

    # When the leads are exported to CSV
    [row] = export_rows(staff.get(LEADS, {"export": "csv"}))

    # Then the moments are local, to the minute, in columns that say they hold a moment
    assert (row["First touch at"], row["Created at"], row["Last touch at"]) == (
        "2026-12-06 15:23",
        "2026-12-06 15:23",
        "",
    )
    assert "First touch" not in row
