"""The nurture part of ``leadmill run --demo``: a follow-up sequence for the demo's e-book
form (two emails, the second only for leads who did not open the first) and a segment of
warm and hot leads, so a new install shows a working nurture flow. Created once."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.utils import translation
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _
from wagtail.models import Locale

from leadmill.capture.models import Form
from leadmill.consent.models import Purpose
from leadmill.core.i18n import language_supported
from leadmill.messaging.models import EmailTemplate
from leadmill.segments.models import Segment

from .models import Sequence

SEQUENCE_NAME = "E-book follow-up"

# Marked for translation where they are used (gettext_noop: the msgid is the whole body).
FIRST_BODY = gettext_noop("""<p>Hi {{ first_name|default:"there" }},</p>
<p>Thanks for downloading <strong>The Lead Generation Playbook</strong>. Chapter 2, on landing
pages that convert, is the one most readers put to work first.</p>
<p><a href="https://example.com/playbook/chapter-2">Read chapter 2 online</a></p>""")

SECOND_BODY = gettext_noop("""<p>Hi {{ first_name|default:"there" }},</p>
<p>In case the playbook got buried in your inbox: here are the three checklists from it on one
page, and if you would rather see it all working, book a 20-minute demo.</p>
<p><a href="https://example.com/playbook/checklists">The three checklists</a></p>
<p><a href="https://example.com/demo">Book a demo</a></p>""")


def _step(kind: str, label: str = "", **value) -> dict:
    return {"type": kind, "value": {"label": label, **value}, "id": str(uuid.uuid4())}


def _emails_create(
    *, purpose: Purpose | None, sources: tuple[EmailTemplate, EmailTemplate] | None = None
) -> tuple[EmailTemplate, EmailTemplate]:
    """The two follow-up emails in the active language; with ``sources``, as their
    translations (ADR 43)."""

    def translation_of(index: int) -> dict:
        if sources is None:
            return {}
        locale, _created = Locale.objects.get_or_create(language_code=get_language())
        return {"locale": locale, "translation_key": sources[index].translation_key}

    first = EmailTemplate.objects.create(
        **translation_of(0),
        name=_("E-book follow-up 1: chapter 2"),
        subject=_("{{ first_name|default:'Hi' }}, start with chapter 2"),
        preheader=_("The chapter readers put to work first"),
        body=_(FIRST_BODY),
        purpose=purpose,
    )
    second = EmailTemplate.objects.create(
        **translation_of(1),
        name=_("E-book follow-up 2: the checklists"),
        subject=_("The three checklists, on one page"),
        preheader=_("Or see it working in a 20-minute demo"),
        body=_(SECOND_BODY),
        purpose=purpose,
    )
    return first, second


def nurture_demo_seed() -> bool:
    """Create the demo sequence and segment unless a sequence exists; True when created."""
    form = Form.objects.filter(slug="ebook").first()
    if form is None or Sequence.objects.exists():
        return False
    purpose = Purpose.objects.filter(key="email-marketing").first()
    first, second = _emails_create(purpose=purpose)
    default = language_supported(settings.LANGUAGE_CODE)
    for code, _name in settings.LANGUAGES:
        language = language_supported(code)
        if language is not None and language != default:
            with translation.override(language):  # a lead of that language gets these
                _emails_create(purpose=purpose, sources=(first, second))
    sequence = Sequence.objects.create(
        name=SEQUENCE_NAME,
        is_active=True,
        trigger=Sequence.Trigger.FORM,
        trigger_form=form,
        exit_stages=["sql", "customer"],
    )
    sequence.steps = [
        _step("send_email", "chapter 2", template=first.pk),
        _step("wait", days=2),
        _step("branch", condition="opened", step_label="chapter 2", then_go_to="done"),
        _step("send_email", "checklists", template=second.pk),
        _step("end", "done"),
    ]
    sequence.save()
    Segment.objects.create(
        name=_("Warm and hot leads"),
        definition={
            "match": "all",
            "conditions": [{"field": "temperature", "op": "in", "value": ["warm", "hot"]}],
        },
        description=_("Leads worth a closer look: scoring made them warm or hot."),
    )
    return True
