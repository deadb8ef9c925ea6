"""Migration operations that make existing rows translatable (ADR 43)."""

from __future__ import annotations

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def translatable_fields(model_name: str) -> list[migrations.operations.base.Operation]:
    """Add ``locale`` and ``translation_key`` to ``model_name``, fill them on existing rows
    (the site's language, a key each) and add the uniqueness Wagtail's translations need."""

    def fill(apps, schema_editor, *, label: str) -> None:
        model = apps.get_model(label)
        rows = model.objects.filter(locale__isnull=True)
        if not rows.exists():
            return
        from wagtail.coreutils import get_supported_content_language_variant

        Locale = apps.get_model("wagtailcore", "Locale")
        locale, _created = Locale.objects.get_or_create(
            language_code=get_supported_content_language_variant(settings.LANGUAGE_CODE)
        )
        for pk in rows.values_list("pk", flat=True):
            model.objects.filter(pk=pk).update(locale=locale, translation_key=uuid.uuid4())

    app_label, name = model_name.split(".")
    return [
        migrations.AddField(
            model_name=name,
            name="translation_key",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.AddField(
            model_name=name,
            name="locale",
            field=models.ForeignKey(
                null=True,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="wagtailcore.locale",
                verbose_name="locale",
            ),
        ),
        migrations.RunPython(
            lambda apps, schema_editor: fill(apps, schema_editor, label=model_name),
            migrations.RunPython.noop,
        ),
        migrations.AlterField(
            model_name=name,
            name="translation_key",
            field=models.UUIDField(default=uuid.uuid4, editable=False),
        ),
        migrations.AlterField(
            model_name=name,
            name="locale",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="wagtailcore.locale",
                verbose_name="locale",
            ),
        ),
        migrations.AlterUniqueTogether(name=name, unique_together={("translation_key", "locale")}),
    ]
