from django.db import migrations

from leadmill.core.migration_i18n import translatable_fields


class Migration(migrations.Migration):
    """Forms and offers can be written in several languages (ADR 43)."""

    dependencies = [
        ("capture", "0014_form_consent_purpose_label"),
        ("wagtailcore", "0094_alter_page_locale"),
    ]

    operations = [*translatable_fields("capture.Offer"), *translatable_fields("capture.Form")]
