"""The demo seed (capture.demo): what ``leadmill run --demo`` puts in an empty installation."""

import re
import time

import pytest
from wagtail.models import Page, Site

from leadmill.consent.models import Purpose

from .. import tokens
from ..demo import demo_seed, playbook_pdf
from ..models import CallToAction, Form, Offer, Submission
from ..pages import LandingPage
from .factories import FormFactory

pytestmark = pytest.mark.django_db


def test_seeding_twice_creates_everything_once():
    first = demo_seed()
    second = demo_seed()

    assert (first, second) == (True, False)
    assert sorted(Purpose.objects.values_list("key", "is_email_marketing")) == [
        ("email-marketing", True),
        ("privacy", False),
    ]
    assert sorted(
        Offer.objects.values_list("locale__language_code", "name", "kind", "is_intent_signal")
    ) == [
        ("en", "Product demo", "demo", True),
        ("en", "The Lead Generation Playbook", "download", False),
        ("pt-br", "Demonstração do produto", "demo", True),
        ("pt-br", "O Playbook de Geração de Leads", "download", False),
    ]
    assert sorted(Form.objects.values_list("slug", "locale__language_code")) == [
        ("demo-request", "en"),
        ("demo-request-pt-br", "pt-br"),
        ("ebook", "en"),
        ("ebook-pt-br", "pt-br"),
    ]
    assert sorted(CallToAction.objects.values_list("slug", flat=True)) == [
        "book-a-demo",
        "get-the-ebook",
    ]
    assert sorted(LandingPage.objects.values_list("slug", "live", "locale__language_code")) == [
        ("demo", True, "en"),
        ("demo", True, "pt-br"),
        ("ebook", True, "en"),
        ("ebook", True, "pt-br"),
        ("landing-page-template", False, "en"),
        ("leadmill", True, "en"),
        ("leadmill-pt-br", True, "pt-br"),
        ("privacy", True, "en"),
        ("privacy", True, "pt-br"),
    ]


def test_the_forms_ask_what_the_demo_promises():
    demo_seed()

    ebook = Form.objects.get(slug="ebook")
    demo = Form.objects.get(slug="demo-request")

    assert [(f.kind, f.required) for f in ebook.fields.all()] == [
        ("email", True),
        ("first_name", False),
        ("company_name", False),
    ]
    assert [c.purpose.key for c in ebook.consents.all()] == ["email-marketing"]
    assert [f.kind for f in demo.fields.all()] == [
        "email",
        "first_name",
        "last_name",
        "phone",
        "company_name",
        "role",
        "company_size",
        "message",
    ]
    assert [(c.purpose.key, c.required) for c in demo.consents.all()] == [
        ("email-marketing", False),
        ("privacy", False),
    ]
    assert ebook.offer.name == "The Lead Generation Playbook"
    assert demo.offer.kind == Offer.Kind.DEMO


def test_the_demo_site_root_is_a_home_page_that_links_to_both_landing_pages(client):
    demo_seed()

    response = client.get("/")

    assert response.status_code == 200
    assert Site.objects.get(is_default_site=True).root_page.specific.title == "Leadmill demo"
    html = response.content.decode()
    assert 'href="/c/get-the-ebook/"' in html
    assert 'href="/c/book-a-demo/"' in html
    assert client.get("/c/get-the-ebook/")["Location"] == "/ebook/"
    assert client.get("/c/book-a-demo/")["Location"] == "/demo/"


@pytest.mark.parametrize(
    ("path", "action", "button"),
    [
        ("/ebook/", "/f/ebook/", "Send me the e-book"),
        ("/demo/", "/f/demo-request/", "Request my demo"),
    ],
)
def test_the_landing_pages_answer_200_with_their_form(client, path, action, button):
    demo_seed()

    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<form method="post" action="{action}"' in html
    assert f'<button type="submit" class="lm-button">{button}</button>' in html


def test_the_template_page_is_a_draft_nobody_can_visit(client):
    demo_seed()

    template = LandingPage.objects.get(slug="landing-page-template")

    assert template.live is False
    assert [block.block_type for block in template.body] == [
        "hero",
        "text",
        "offer",
        "benefits",
        "testimonial",
        "form",
        "cta",
    ]
    assert template.form.slug == "ebook"
    assert template.get_latest_revision() is not None
    assert client.get("/landing-page-template/").status_code == 404


def test_the_thank_you_route_is_not_indexed(client):
    demo_seed()

    response = client.get("/ebook/thanks/")

    assert response.status_code == 200
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert '<meta name="robots" content="noindex, nofollow">' in response.content.decode()


def test_a_visitor_who_fills_the_ebook_form_gets_the_pdf(client):
    demo_seed()
    form = Form.objects.get(slug="ebook")
    page = LandingPage.objects.get(slug="ebook", locale__language_code="en")

    response = client.post(
        "/f/ebook/",
        data={
            "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
            "_page": str(page.pk),
            "website": "",
            "email": "ana@example.com",
            "first_name": "Ana",
        },
    )
    thanks = client.get(response["Location"])
    download_url = re.search(r'href="(/d/[^"]+)"', thanks.content.decode()).group(1)
    download = client.get(download_url)

    assert response.status_code == 303
    assert response["Location"].startswith("/ebook/thanks/?s=")
    # stored at once; the worker turns it into a lead after commit, the link works already
    assert Submission.objects.get().status == Submission.Status.RECEIVED
    assert '<h1 id="thanks-title">Your e-book is ready</h1>' in thanks.content.decode()
    assert download.status_code == 200
    assert re.fullmatch(
        r'attachment; filename="lead-generation-playbook(_\w+)?\.pdf"',
        download["Content-Disposition"],
    )
    assert b"".join(download.streaming_content) == playbook_pdf()


def test_the_ebook_is_a_well_formed_pdf():
    pdf = playbook_pdf()

    xref_at = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", pdf).group(1))
    table = pdf[xref_at:].split(b"trailer")[0].splitlines()
    offsets = [int(line[:10]) for line in table[3:]]

    assert pdf.startswith(b"%PDF-1.4\n")
    assert table[0] == b"xref"
    assert table[1] == f"0 {len(offsets) + 1}".encode()
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(f"{number} 0 obj\n".encode())
    assert pdf.count(b"/Type /Page ") == 6
    for stream in re.finditer(rb"<< /Length (\d+) >>\nstream\n", pdf):
        length = int(stream.group(1))
        assert pdf[stream.end() + length :].startswith(b"\nendstream")


def test_an_installation_with_its_own_forms_is_left_alone():
    FormFactory(slug="newsletter")
    pages_before = Page.objects.count()

    seeded = demo_seed()

    assert seeded is False
    assert Page.objects.count() == pages_before
    assert not Offer.objects.exists()
    assert not Purpose.objects.exists()


def test_a_site_whose_root_is_a_real_page_keeps_it_and_gets_the_demo_under_it(client):
    demo_seed()  # makes sure the tree and the default site exist, then start again from a real site
    site = Site.objects.get(is_default_site=True)
    root = Page.get_first_root_node()
    own_home = root.add_child(instance=Page(title="Our site", slug="our-site"))
    site.root_page = own_home
    site.save()
    LandingPage.objects.all().delete()
    CallToAction.objects.all().delete()
    Form.objects.all().delete()

    seeded = demo_seed()

    assert seeded is True
    assert Site.objects.get(is_default_site=True).root_page_id == own_home.pk
    assert sorted(Page.objects.child_of(own_home).values_list("slug", flat=True)) == [
        "demo",
        "ebook",
        "landing-page-template",
        "privacy",
    ]
    assert client.get("/ebook/").status_code == 200


def test_every_example_in_the_demo_forms_help_texts_is_accepted_by_its_field():
    # Given the demo's forms, whose help texts give examples ("e.g. +1 202 555 0143.")
    demo_seed()
    from ..forms import lead_form_class

    examples = []
    for form in Form.objects.prefetch_related("fields", "consents__purpose"):
        for field in form.fields.all():
            for example in re.findall(r"e\.g\. (.+?)\.?$", field.help_text):
                examples.append((form, field, example))

    # When each example is typed into its field
    refused = {}
    for form, field, example in examples:
        data = {"email": "ana@example.com", "first_name": "Ana", "company_name": "Acme"}
        data[field.name] = example
        bound = lead_form_class(form)(data=data)
        bound.is_valid()
        if field.name in bound.errors:
            refused[f"{form.slug}.{field.name}"] = (example, bound.errors[field.name])

    # Then every one is accepted (and there are examples to check)
    assert [example for _form, _field, example in examples] == ["+1 202 555 0143", "11-50"]
    assert refused == {}
