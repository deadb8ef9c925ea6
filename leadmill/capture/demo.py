"""The demo content: two working landing pages and a page template for marketers.

``leadmill run --demo`` calls :func:`demo_seed` on every start. It seeds only an empty
installation (no landing page and no capture form), so it never touches a marketer's own
content, and running it twice creates everything once.

What it creates:

* the consent purposes ``email-marketing`` and ``privacy``;
* the offers "The Lead Generation Playbook" (a real PDF e-book) and "Product demo";
* the forms ``ebook`` and ``demo-request`` and the calls to action ``get-the-ebook`` and
  ``book-a-demo``;
* a home page "Leadmill demo" as the default site's root, with the live landing pages
  ``/ebook/`` and ``/demo/`` under it, and the draft "Landing page template" that a marketer
  copies (Pages → … → Copy) to build a new landing page in a minute.

Texts go through ``gettext``, so an installation whose language is not English is seeded in
its own language where a translation exists; and each other language of ``LANGUAGES``
(Brazilian Portuguese) gets translations of the offers, forms and pages (ADR 43): the forms
post to ``ebook-pt-br`` and ``demo-request-pt-br``, the pages keep their URLs and are served
to visitors who ask for that language (or follow a ``?lang=pt-br`` link).
"""

from __future__ import annotations

import textwrap

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from wagtail.coreutils import get_supported_content_language_variant
from wagtail.models import Locale, Page, Site
from wagtail.rich_text import RichText

from leadmill.consent.models import Purpose, PurposeTranslation
from leadmill.consent.services import purpose_ensure
from leadmill.core.i18n import language_supported, locale_for

from .models import CallToAction, FieldKind, Form, FormConsent, FormField, Offer
from .pages import LandingPage

EBOOK_FILENAME = "lead-generation-playbook.pdf"


def demo_seed() -> bool:
    """Seed the demo when the database holds no landing page and no capture form.

    Everything is created in one transaction: a failure leaves nothing half-seeded.
    Returns True when it seeded, False when there was already content.
    """
    if _has_content():
        return False
    with transaction.atomic():
        if _has_content():  # another process seeded while this one was starting
            return False
        marketing, privacy = _purposes_ensure()
        offers = _offers_create()
        ebook_form, demo_form = _forms_create(offers, purposes=(marketing, privacy))
        home = _home_ensure()
        privacy_page, ebook_page, demo_page = _pages_publish(
            home, forms=(ebook_form, demo_form), privacy=privacy
        )
        ebook_cta = CallToAction.objects.create(
            label=_("Get the free e-book"), slug="get-the-ebook", target_page=ebook_page
        )
        demo_cta = CallToAction.objects.create(
            label=_("Book a demo"), slug="book-a-demo", target_page=demo_page
        )
        if home.specific_class is LandingPage:
            _home_body_fill(home.specific, ebook_cta=ebook_cta, demo_cta=demo_cta)
        _template_page_create(home, form=ebook_form, ebook_offer=offers[0], cta=ebook_cta)
        default = language_supported(settings.LANGUAGE_CODE)
        for code, _name in settings.LANGUAGES:
            language = language_supported(code)
            if language is None or language == default:
                continue
            with translation.override(language):
                _translation_seed(
                    offers=offers,
                    forms=(ebook_form, demo_form),
                    purposes=(marketing, privacy),
                    home=home,
                    pages=(privacy_page, ebook_page, demo_page),
                    ctas=(ebook_cta, demo_cta),
                )
    return True


def _forms_create(
    offers: tuple[Offer, Offer],
    *,
    purposes: tuple[Purpose, Purpose],
    sources: tuple[Form, Form] | None = None,
) -> tuple[Form, Form]:
    """The e-book and demo-request forms in the active language (translations of ``sources``)."""
    marketing, privacy = purposes
    ebook_form = _form_create(
        name=_("E-book: The Lead Generation Playbook"),
        slug="ebook",
        offer=offers[0],
        submit_label=_("Send me the e-book"),
        success_message=_("Thank you! Your e-book is ready to download."),
        fields=[
            (FieldKind.EMAIL, True, ""),
            (FieldKind.FIRST_NAME, False, ""),
            (FieldKind.COMPANY, False, ""),
        ],
        purposes=[marketing],
        translation_of=sources[0] if sources else None,
    )
    demo_form = _form_create(
        name=_("Demo request"),
        slug="demo-request",
        offer=offers[1],
        submit_label=_("Request my demo"),
        success_message=_("Thank you! We will contact you within one business day."),
        fields=[
            (FieldKind.EMAIL, True, _("Your work email, so we can send the invitation.")),
            (FieldKind.FIRST_NAME, True, ""),
            (FieldKind.LAST_NAME, False, ""),
            (FieldKind.PHONE, False, _("With the country code, e.g. +1 202 555 0143.")),
            (FieldKind.COMPANY, True, ""),
            (FieldKind.ROLE, False, ""),
            (FieldKind.COMPANY_SIZE, False, _("Number of employees, e.g. 11-50.")),
            (FieldKind.MESSAGE, False, _("What would you like to see in the demo?")),
        ],
        purposes=[marketing, privacy],
        translation_of=sources[1] if sources else None,
    )
    return ebook_form, demo_form


def _pages_publish(
    home: Page, *, forms: tuple[Form, Form], privacy: Purpose, sources=None
) -> tuple[LandingPage, LandingPage, LandingPage]:
    """The privacy notice and the two landing pages under ``home``, in the active language
    (translations of ``sources``); the forms' privacy checkboxes link the notice."""
    built = (_privacy_page(), _ebook_page(forms[0]), _demo_page(forms[1]))
    if sources is not None:
        for page, source in zip(built, sources, strict=True):
            page.locale, page.translation_key = home.locale, source.translation_key
    privacy_page, ebook_page, demo_page = (_publish(home, page) for page in built)
    FormConsent.objects.filter(purpose=privacy, form__in=forms).update(notice_page=privacy_page)
    return privacy_page, ebook_page, demo_page


def _translation_seed(*, offers, forms, purposes, home, pages, ctas) -> None:
    """The demo's offers, forms and pages in the active language, as translations of the
    site language's ones (ADR 43): a visitor whose browser asks for it gets them."""
    Locale.objects.get_or_create(language_code=get_language())
    _purposes_translate(purposes)
    translated_offers = _offers_create(sources=offers)
    translated_forms = _forms_create(translated_offers, purposes=purposes, sources=forms)
    if home.specific_class is not LandingPage:
        return  # someone's own site: its pages are theirs to translate
    locale = locale_for(get_language())
    translated_home = LandingPage(
        title=_("Leadmill demo"),
        slug=f"{home.slug}-{locale.language_code}",
        intro=_("Two working landing pages: an e-book download and a demo request."),
        thank_you_title=_("Thank you!"),
        locale=locale,
        translation_key=home.translation_key,
    )
    _publish(home.get_parent(), translated_home)
    _pages_publish(translated_home, forms=translated_forms, privacy=purposes[1], sources=pages)
    _home_body_fill(translated_home, ebook_cta=ctas[0], demo_cta=ctas[1], translated=True)


def _has_content() -> bool:
    return LandingPage.objects.exists() or Form.objects.exists()


def _purpose_texts() -> tuple[str, str]:
    """The checkbox texts of the marketing and privacy purposes, in the active language."""
    return (
        _("Yes, send me marketing emails about Leadmill. I can unsubscribe at any time."),
        _("I have read the privacy notice and know how my details are used."),
    )


def _purposes_ensure() -> tuple[Purpose, Purpose]:
    marketing_text, privacy_text = _purpose_texts()
    marketing = purpose_ensure(
        key="email-marketing",
        name=_("Marketing email"),
        text=marketing_text,
        is_email_marketing=True,
    )
    privacy = purpose_ensure(key="privacy", name=_("Privacy notice"), text=privacy_text)
    return marketing, privacy


def _purposes_translate(purposes: tuple[Purpose, Purpose]) -> None:
    """The purposes' checkbox texts in the active language (a new text version each), unless
    a purpose has that language already."""
    language = get_language()
    for purpose, text in zip(purposes, _purpose_texts(), strict=True):
        if any(t.language == language for t in purpose.translations.all()):
            continue
        purpose.translations.add(PurposeTranslation(language=language, text=text))
        purpose.save()


def _offers_create(*, sources: tuple[Offer, Offer] | None = None) -> tuple[Offer, Offer]:
    """The demo's offers, in the active language; with ``sources``, as their translations
    (the e-book translation shares its source's file)."""

    def translation_of(index: int) -> dict:
        if sources is None:
            return {}
        return {
            "locale": locale_for(get_language()),
            "translation_key": sources[index].translation_key,
        }

    ebook = Offer.objects.create(
        **translation_of(0),
        name=_("The Lead Generation Playbook"),
        kind=Offer.Kind.DOWNLOAD,
        delivery_message=_(
            "<p>Start with chapter 2, the one-page offer checklist: it takes ten minutes "
            "and usually lifts conversion at once.</p>"
        ),
        email_subject=_("Your copy of The Lead Generation Playbook"),
    )
    if sources is None:
        ebook.file.save(EBOOK_FILENAME, ContentFile(playbook_pdf()), save=True)
    else:
        ebook.file.name = sources[0].file.name
        ebook.save(update_fields=["file"])
    demo = Offer.objects.create(
        **translation_of(1),
        name=_("Product demo"),
        kind=Offer.Kind.DEMO,
        is_intent_signal=True,
        delivery_message=_(
            "<p>A Leadmill specialist will call or email you within one business day to "
            "find a time for a 30-minute demo on your own use case.</p>"
        ),
        email_subject=_("Your Leadmill demo request"),
    )
    return ebook, demo


def _form_create(
    *,
    name: str,
    slug: str,
    offer: Offer,
    submit_label: str,
    success_message: str,
    fields: list[tuple[str, bool, str]],
    purposes: list[Purpose],
    translation_of: Form | None = None,
) -> Form:
    """A demo form in the active language; with ``translation_of``, as its translation
    (posting to ``<slug>-<language>``)."""
    if translation_of is not None:
        slug = f"{translation_of.slug}-{get_language()}"
    form = Form(
        **(
            {
                "locale": locale_for(get_language()),
                "translation_key": translation_of.translation_key,
            }
            if translation_of is not None
            else {}
        ),
        name=name,
        slug=slug,
        offer=offer,
        submit_label=submit_label,
        success_message=success_message,
    )
    form.fields = [
        FormField(kind=kind, required=required, help_text=help_text, sort_order=index)
        for index, (kind, required, help_text) in enumerate(fields)
    ]
    form.consents = [
        FormConsent(purpose=purpose, sort_order=index) for index, purpose in enumerate(purposes)
    ]
    form.save()
    return form


def _home_ensure() -> Page:
    """The default site's root page, where the demo pages go.

    A fresh Wagtail install has a bare "Welcome" page as its root: it is replaced by a
    "Leadmill demo" landing page. Any other root page (someone's real site) is kept. A
    database without Wagtail's initial tree (its locale, root node and site) gets them."""
    Locale.objects.get_or_create(
        language_code=get_supported_content_language_variant(settings.LANGUAGE_CODE)
    )
    site = Site.objects.select_related("root_page").filter(is_default_site=True).first()
    current = site.root_page if site is not None else None
    if current is not None and not _is_wagtail_welcome_page(current):
        return current
    tree_root = Page.get_first_root_node() or Page.add_root(
        instance=Page(title="Root", slug="root")
    )
    home = LandingPage(
        title=_("Leadmill demo"),
        slug="leadmill",
        intro=_("Two working landing pages: an e-book download and a demo request."),
        thank_you_title=_("Thank you!"),
    )
    _publish(tree_root, home)
    if site is None:
        Site.objects.create(
            hostname="localhost",
            port=80,
            root_page=home,
            is_default_site=True,
            site_name=settings.WAGTAIL_SITE_NAME,
        )
    else:
        site.root_page = home
        site.save(update_fields=["root_page"])
        current.delete()
    return home


def _is_wagtail_welcome_page(page: Page) -> bool:
    """The page Wagtail's first migration creates, untouched: nobody's content is lost."""
    return (
        page.specific_class is Page
        and page.slug == "home"
        and page.numchild == 0
        and page.title == "Welcome to your new Wagtail site!"
    )


def _publish(parent: Page, page: LandingPage) -> LandingPage:
    parent.add_child(instance=page)
    page.save_revision().publish()
    return page


def _privacy_page() -> LandingPage:
    """The privacy notice that the "privacy" consent checkbox links to."""
    return LandingPage(
        title=_("Privacy notice"),
        slug="privacy",
        intro=_("How the Leadmill demo uses the details you leave in its forms."),
        body=[
            (
                "text",
                RichText(
                    _(
                        "<p>We use your details only to send you what you asked for and, if you "
                        "agreed, our marketing emails. We keep the proof of each consent you give. "
                        "You can unsubscribe from every email in one click, and ask us to export "
                        "or erase your details at any time.</p>"
                    )
                ),
            )
        ],
    )


def _ebook_page(form: Form) -> LandingPage:
    return LandingPage(
        title=_("The Lead Generation Playbook"),
        slug="ebook",
        intro=_("A free e-book: how to turn visitors into qualified leads every day."),
        search_description=_(
            "Download the free Lead Generation Playbook: offers, landing pages, forms, "
            "consent and nurture, in 5 short chapters with checklists."
        ),
        form=form,
        body=[
            (
                "hero",
                {
                    "heading": _("Fill your pipeline every day, not just on launch day"),
                    "subheading": _(
                        "The Lead Generation Playbook: 5 short chapters and the checklists "
                        "we use to turn visitors into qualified leads."
                    ),
                    "image": None,
                },
            ),
            (
                "benefits",
                {
                    "heading": _("What you will learn"),
                    "items": [
                        _("Choose an offer your visitors really want"),
                        _("Build a landing page with one goal and no distractions"),
                        _("Ask for less: forms that convert without losing quality"),
                        _("Collect consent that stands up to an audit"),
                        _("Nurture leads until sales is ready to call"),
                    ],
                },
            ),
            (
                "testimonial",
                {
                    "quote": _(
                        "We rebuilt our three landing pages with the playbook's checklists and "
                        "doubled our demo requests in a month."
                    ),
                    "author": "Marta Oliveira",
                    "role": _("Head of Marketing, Lumen Analytics"),
                },
            ),
            ("form", None),
        ],
        thank_you_title=_("Your e-book is ready"),
        thank_you_body=_("<p>Thank you! Here is your copy of the playbook.</p>"),
    )


def _demo_page(form: Form) -> LandingPage:
    return LandingPage(
        title=_("See Leadmill in action"),
        slug="demo",
        intro=_("A 30-minute demo on your own leads, with one of our specialists."),
        search_description=_(
            "Book a free 30-minute Leadmill demo: landing pages, lead scoring and nurture "
            "on your own use case."
        ),
        form=form,
        body=[
            (
                "hero",
                {
                    "heading": _("Book a 30-minute demo"),
                    "subheading": _(
                        "See how Leadmill captures, scores and nurtures your leads, "
                        "and hands the hot ones to sales at the right time."
                    ),
                    "image": None,
                },
            ),
            (
                "benefits",
                {
                    "heading": _("In 30 minutes you will see"),
                    "items": [
                        _("A landing page and form built live, in minutes"),
                        _("Lead scoring that tells cold, warm and hot leads apart"),
                        _("Nurture sequences that run themselves"),
                        _("Where every lead came from, by source and campaign"),
                    ],
                },
            ),
            (
                "testimonial",
                {
                    "quote": _(
                        "The demo was about our funnel, not a slide deck. We went live the next week."
                    ),
                    "author": "Daniel Kim",
                    "role": _("Growth Lead, Northwind Studio"),
                },
            ),
            ("form", None),
        ],
        thank_you_title=_("Thanks, we will be in touch"),
        thank_you_body=_("<p>Your request has reached our team.</p>"),
    )


def _home_body_fill(
    home: LandingPage,
    *,
    ebook_cta: CallToAction,
    demo_cta: CallToAction,
    translated: bool = False,
) -> None:
    home.body = [
        (
            "text",
            RichText(
                _(
                    "<p>This is Leadmill's demo site. Open one of the landing pages below and fill in its form "
                    'as a visitor would, then find yourself as a lead in the back office at <a href="/admin/">/admin/</a>.</p>'
                )
            ),
        ),
        # A translation words the shared calls to action in its own language.
        ("cta", {"cta": ebook_cta, "text": _("Get the free e-book") if translated else ""}),
        ("cta", {"cta": demo_cta, "text": _("Book a demo") if translated else ""}),
    ]
    home.save_revision().publish()


def _template_page_create(
    parent: Page, *, form: Form, ebook_offer: Offer, cta: CallToAction
) -> LandingPage:
    """A draft page with every block in the recommended order and hints in place of content."""
    page = LandingPage(
        title=_("Landing page template"),
        slug="landing-page-template",
        live=False,
        form=form,
        intro=_("One sentence that says what the visitor gets. Search engines show it too."),
        body=[
            (
                "hero",
                {
                    "heading": _("The main benefit, in under ten words"),
                    "subheading": _("One or two sentences: who it is for and what they get."),
                    "image": None,
                },
            ),
            (
                "text",
                RichText(
                    _(
                        "<p><b>How to use this template:</b> copy this page (Pages → ⋯ → Copy), give the "
                        "copy a title and a short slug, choose its conversion form in the Content tab (this "
                        "template shows the e-book form), replace the texts, delete this box and publish.</p>"
                    )
                ),
            ),
            (
                "offer",
                {
                    "offer": ebook_offer,
                    "heading": "",
                    "description": RichText(
                        _("<p>What exactly the visitor receives, and in what form.</p>")
                    ),
                },
            ),
            (
                "benefits",
                {
                    "heading": _("What you get"),
                    "items": [
                        _("A concrete benefit"),
                        _("Another concrete benefit"),
                        _("A third one, at most five"),
                    ],
                },
            ),
            (
                "testimonial",
                {
                    "quote": _("A short quote from a real customer about the result they got."),
                    "author": _("Customer name"),
                    "role": _("Role, Company"),
                },
            ),
            ("form", None),
            ("cta", {"cta": cta, "text": ""}),
        ],
        thank_you_title=_("Thank you!"),
        thank_you_body=_("<p>Say what happens next, and when.</p>"),
    )
    parent.add_child(instance=page)
    page.save_revision()
    return page


# --- The e-book -------------------------------------------------------------------------

_PLAYBOOK = [
    (
        "The Lead Generation Playbook",
        [
            "Five short chapters and the checklists that turn visitors into qualified leads.",
            "",
            "Published with the Leadmill demo. Share it freely.",
        ],
    ),
    (
        "1. An offer worth an email address",
        [
            "People trade their details for something useful now: a checklist, a template, a "
            "calculator, a free trial, a discount or a conversation with an expert. Write the offer "
            "as the result the visitor gets, not the format: 'plan next quarter's campaigns in an "
            "afternoon' beats 'a 30-page PDF'.",
            "",
            "Checklist: one audience; one problem; a result in the title; delivered at once.",
        ],
    ),
    (
        "2. One page, one goal",
        [
            "A landing page has one job. Remove the navigation, repeat the call to action, and put "
            "the form where the reader decides: after the benefits on a phone, beside them on a "
            "desktop. Proof (a testimonial, a number) goes right before the form.",
            "",
            "Checklist: headline = benefit; three to five benefits; one testimonial; one form.",
        ],
    ),
    (
        "3. Ask for less",
        [
            "Every field costs conversions. Ask for the email and, at most, two details you will use "
            "this week. Ask the rest later, on the next offer. Errors must say what to fix, and "
            "everything the person typed must still be there after an error.",
            "",
            "Checklist: email first; optional fields marked; clear errors; no lost input.",
        ],
    ),
    (
        "4. Consent that stands up to an audit",
        [
            "Keep one unticked checkbox per purpose, with its exact text. Record who agreed, to which "
            "text, when, on which page. Honour unsubscribe in one click and at send time.",
            "",
            "Checklist: unticked boxes; versioned texts; proof kept; one-click unsubscribe.",
        ],
    ),
    (
        "5. Nurture until sales is ready",
        [
            "Most leads are not ready to buy today. Score fit and behaviour, send useful emails at a "
            "steady pace, and hand a lead to sales when it is hot: a demo request, a pricing visit, "
            "a reply. Measure cost per lead and per customer by source, then invest in what works.",
            "",
            "Checklist: score; nurture; hand off fast; measure by source.",
        ],
    ),
]


def playbook_pdf() -> bytes:
    """The demo e-book: a small, valid PDF (one page per chapter) written without a library."""
    pages = [
        _pdf_page_stream(title, paragraphs, number=index + 1, cover=index == 0)
        for index, (title, paragraphs) in enumerate(_PLAYBOOK)
    ]
    first_page_obj = 5
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(f"{first_page_obj + 2 * i} 0 R".encode() for i in range(len(pages)))
        + f"] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    ]
    for index, stream in enumerate(pages):
        content_obj = first_page_obj + 2 * index + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> "
            + f"/Contents {content_obj} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    objects.append(b"<< /Title (The Lead Generation Playbook) /Producer (Leadmill demo) >>")
    info_obj = len(objects)

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode() + b"0000000000 65535 f \n"
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_obj} 0 R >>\n".encode()
    out += f"startxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)


def _pdf_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _pdf_page_stream(title: str, paragraphs: list[str], *, number: int, cover: bool) -> bytes:
    size = 30 if cover else 20
    lines = [f"BT /F2 {size} Tf 72 {640 if cover else 700} Td ({_pdf_text(title)}) Tj ET"]
    y = 590 if cover else 660
    for paragraph in paragraphs:
        for line in textwrap.wrap(paragraph, 82) or [""]:
            lines.append(f"BT /F1 12 Tf 72 {y} Td ({_pdf_text(line)}) Tj ET")
            y -= 17
    lines.append(f"BT /F1 9 Tf 300 40 Td ({number}) Tj ET")
    if cover:
        lines.insert(0, "0.23 0.24 0.78 rg 0 700 612 92 re f 0 g")
    return "\n".join(lines).encode("latin-1")
