"""The segments app takes over nurture's segment models (issue 13), step 2 of 3.

The tables exist already (``nurture/0006_segment_tables_renamed`` renamed them to
``segments_*``), so the models are created in the migration state only. Their content
types are relabelled ``nurture`` → ``segments``, so the permissions groups hold on segments
(and anything else that points at a content type) follow them.
"""

import django.db.models.deletion
from django.db import migrations, models

MODELS = ("segment", "segmentmember", "segmententry")


def _relabel(apps, *, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        moving = ContentType.objects.filter(app_label=old, model=model).first()
        if moving is None:
            continue  # a fresh database: post_migrate creates the new one
        # one created for the new label by an earlier run holds nothing yet: the moving
        # one (with its permissions) takes its place
        ContentType.objects.filter(app_label=new, model=model).delete()
        moving.app_label = new
        moving.save(update_fields=["app_label"])
    ContentType.objects.clear_cache()


def content_types_forward(apps, schema_editor):
    _relabel(apps, old="nurture", new="segments")


def content_types_backward(apps, schema_editor):
    _relabel(apps, old="segments", new="nurture")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contacts", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("nurture", "0006_segment_tables_renamed"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Segment",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=200, verbose_name="name")),
                        ("kind", models.CharField(choices=[("dynamic", "Dynamic (filters)"), ("static", "Static list")], default="dynamic", max_length=10, verbose_name="kind")),
                        ("definition", models.JSONField(blank=True, default=dict, verbose_name="filters")),
                        ("description", models.TextField(blank=True, verbose_name="description")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "verbose_name": "segment",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="SegmentEntry",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("entered_at", models.DateTimeField()),
                        ("contact", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="contacts.contact")),
                        ("segment", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="entries", to="segments.segment")),
                    ],
                    options={
                        "constraints": [models.UniqueConstraint(fields=("segment", "contact"), name="segment_entry_unique")],
                    },
                ),
                migrations.CreateModel(
                    name="SegmentMember",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("added_at", models.DateTimeField(auto_now_add=True)),
                        ("contact", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="contacts.contact")),
                        ("segment", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="members", to="segments.segment")),
                    ],
                    options={
                        "constraints": [models.UniqueConstraint(fields=("segment", "contact"), name="segment_member_unique")],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
