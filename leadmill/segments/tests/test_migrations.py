"""Segments left nurture for their own app (issue 13): a populated database migrates forward
with every row kept, the foreign keys of nurture's rows still pointing at them, and the
permissions people hold on segments following the models to their new app."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

BEFORE_THE_MOVE = [("nurture", "0005_remove_sequence_exit_on_reply"), ("segments", None)]
ENTERED_AT = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(targets: list[tuple[str, str | None]]):
    """Migrate to ``targets``; return the historical models of the state now applied."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor = MigrationExecutor(connection)  # a fresh loader sees what is applied now
    graph = executor.loader.graph
    applied = [
        node for node in MigrationRecorder(connection).applied_migrations() if node in graph.nodes
    ]
    return executor.loader.project_state(applied).apps


def migrate_to_the_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def populate(apps) -> dict:
    """Rows in nurture's segment tables and in the rows that refer to them, as they were."""
    Contact = apps.get_model("contacts", "Contact")
    Segment = apps.get_model("nurture", "Segment")
    SegmentMember = apps.get_model("nurture", "SegmentMember")
    SegmentEntry = apps.get_model("nurture", "SegmentEntry")
    EmailTemplate = apps.get_model("nurture", "EmailTemplate")
    Sequence = apps.get_model("nurture", "Sequence")
    Broadcast = apps.get_model("nurture", "Broadcast")
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")

    ana = Contact.objects.create(email="ana@example.com", first_name="Ana", country="BR")
    bia = Contact.objects.create(email="bia@example.com", first_name="Bia", country="PT")
    brazil = Segment.objects.create(
        name="Brazil",
        kind="dynamic",
        definition={
            "match": "all",
            "conditions": [{"field": "country", "op": "equals", "value": "BR"}],
        },
    )
    vips = Segment.objects.create(name="VIPs", kind="static", definition={})
    SegmentMember.objects.create(segment=vips, contact=ana)
    SegmentMember.objects.create(segment=vips, contact=bia)
    SegmentEntry.objects.create(segment=brazil, contact=ana, entered_at=ENTERED_AT)
    template = EmailTemplate.objects.create(name="News", subject="News", body="<p>Hi</p>")
    branch = {
        "type": "branch",
        "id": "b1",
        "value": {"condition": "in_segment", "segment": vips.pk},
    }
    sequence = Sequence.objects.create(
        name="Welcome", trigger="segment", trigger_segment=brazil, steps=json.dumps([branch])
    )
    broadcast = Broadcast.objects.create(name="Launch", template=template, segment=vips)
    segment_type = ContentType.objects.get(app_label="nurture", model="segment")
    editors = Group.objects.create(name="Segment editors")
    editors.permissions.add(
        Permission.objects.get(content_type=segment_type, codename="change_segment")
    )
    return {
        "ana": ana.pk,
        "bia": bia.pk,
        "brazil": brazil.pk,
        "vips": vips.pk,
        "sequence": sequence.pk,
        "broadcast": broadcast.pk,
        "segment_type": segment_type.pk,
        "editors": editors.pk,
    }


def test_a_populated_database_migrates_forward_with_every_segment_row_kept():
    # given a database from before the move, with segments, members, entries and their users
    old_apps = migrate(BEFORE_THE_MOVE)
    try:
        ids = populate(old_apps)
    finally:
        # when it migrates forward (whatever happened above: later tests need the schema)
        migrate_to_the_latest()

    # then every row is there, through the segments app's models
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType

    from leadmill.nurture.models import Broadcast, Sequence
    from leadmill.segments.models import Segment, SegmentEntry, SegmentMember

    ContentType.objects.clear_cache()
    assert {s.pk: (s.name, s.kind) for s in Segment.objects.all()} == {
        ids["brazil"]: ("Brazil", "dynamic"),
        ids["vips"]: ("VIPs", "static"),
    }
    assert Segment.objects.get(pk=ids["brazil"]).definition["conditions"][0]["value"] == "BR"
    assert sorted(
        SegmentMember.objects.filter(segment_id=ids["vips"]).values_list("contact_id", flat=True)
    ) == sorted([ids["ana"], ids["bia"]])
    assert list(SegmentEntry.objects.values_list("segment_id", "contact_id", "entered_at")) == [
        (ids["brazil"], ids["ana"], ENTERED_AT)
    ]
    sequence = Sequence.objects.get(pk=ids["sequence"])
    assert sequence.trigger_segment == Segment.objects.get(pk=ids["brazil"])
    assert sequence.steps[0].value["segment"] == Segment.objects.get(pk=ids["vips"])
    assert Broadcast.objects.get(pk=ids["broadcast"]).segment.name == "VIPs"
    # the content type moved (same id), so the group's permission followed it
    segment_type = ContentType.objects.get_for_model(Segment)
    assert (segment_type.pk, segment_type.app_label) == (ids["segment_type"], "segments")
    assert not ContentType.objects.filter(app_label="nurture", model="segment").exists()
    editors = Group.objects.get(pk=ids["editors"])
    assert list(editors.permissions.values_list("content_type__app_label", "codename")) == [
        ("segments", "change_segment")
    ]
    # and the renamed tables go on numbering after the rows they kept
    assert Segment.objects.create(name="New", kind="static").pk > ids["vips"]
