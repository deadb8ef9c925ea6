"""The one source vocabulary for what is already stored (docs/adr/0021-one-intake-and-one-source-vocabulary.md).

Contacts kept the raw UTM values a form posted as their first / last touch source, medium
and campaign: those move to ``first_utm_*`` / ``last_utm_*`` and the touch is classified
with tracking's vocabulary, as the intake does now. Submissions get their classified source
beside their raw UTM values. Every row is kept; only these columns are written. It lives in
capture (not contacts) because contacts sits below tracking, whose classifier it calls.
"""

from django.db import migrations

BATCH = 1000
_UTM_OF = {"source": "utm_source", "medium": "utm_medium", "campaign": "utm_campaign"}


def _classify(*, utm, referrer, page_url):
    from leadmill.capture.services import source_classify  # the intake's own classification

    return source_classify(utm=utm, referrer=referrer, page_url=page_url)


def _contact_touch(contact, prefix: str) -> list[str]:
    """Classify one touch of a contact in place; returns the columns it set."""
    raw = {part: getattr(contact, f"{prefix}_{part}") for part in _UTM_OF}
    referrer, landing = getattr(contact, f"{prefix}_referrer"), getattr(contact, f"{prefix}_landing_url")
    if not (any(raw.values()) or referrer or landing):
        return []
    source = _classify(utm={_UTM_OF[part]: value for part, value in raw.items()}, referrer=referrer, page_url=landing)
    values = {
        "channel": source.channel if source.is_touch else "",
        "source": source.source[:100], "medium": source.medium[:100], "campaign": source.campaign[:200],
        **{f"utm_{part}": value for part, value in raw.items()},
    }
    for name, value in values.items():
        setattr(contact, f"{prefix}_{name}", value)
    return [f"{prefix}_{name}" for name in values]


def classify_stored_sources(apps, schema_editor):
    Contact = apps.get_model("contacts", "Contact")
    Submission = apps.get_model("capture", "Submission")
    batch, fields = [], set()
    for contact in Contact.objects.order_by("pk").iterator(chunk_size=BATCH):
        changed = _contact_touch(contact, "first") + _contact_touch(contact, "last")
        if changed:
            batch.append(contact)
            fields.update(changed)
        if len(batch) >= BATCH:
            Contact.objects.bulk_update(batch, sorted(fields))
            batch, fields = [], set()
    if batch:
        Contact.objects.bulk_update(batch, sorted(fields))

    batch = []
    columns = ["source_channel", "source", "medium", "campaign"]
    for submission in Submission.objects.order_by("pk").iterator(chunk_size=BATCH):
        utm = {name: getattr(submission, name) for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")}
        if not (any(utm.values()) or submission.referrer or submission.page_url):
            continue
        source = _classify(utm=utm, referrer=submission.referrer, page_url=submission.page_url)
        submission.source_channel = source.channel if source.is_touch else ""
        submission.source, submission.medium, submission.campaign = source.source, source.medium, source.campaign
        batch.append(submission)
        if len(batch) >= BATCH:
            Submission.objects.bulk_update(batch, columns)
            batch = []
    if batch:
        Submission.objects.bulk_update(batch, columns)


def raw_sources_back(apps, schema_editor):
    """Backwards: contacts hold the raw values again, as before."""
    Contact = apps.get_model("contacts", "Contact")
    batch = []
    for contact in Contact.objects.order_by("pk").iterator(chunk_size=BATCH):
        for prefix in ("first", "last"):
            for part in _UTM_OF:
                setattr(contact, f"{prefix}_{part}", getattr(contact, f"{prefix}_utm_{part}"))
        batch.append(contact)
        if len(batch) >= BATCH:
            Contact.objects.bulk_update(batch, [f"{p}_{part}" for p in ("first", "last") for part in _UTM_OF])
            batch = []
    if batch:
        Contact.objects.bulk_update(batch, [f"{p}_{part}" for p in ("first", "last") for part in _UTM_OF])


class Migration(migrations.Migration):
    dependencies = [
        ("capture", "0009_submission_channel_external_id_source"),
        ("contacts", "0003_contact_one_source_vocabulary"),
    ]

    operations = [migrations.RunPython(classify_stored_sources, raw_sources_back, elidable=False)]
