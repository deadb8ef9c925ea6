from django.db import migrations

from leadmill.core.migration_i18n import translatable_fields


class Migration(migrations.Migration):
    """Email templates can be written in several languages (ADR 43)."""

    dependencies = [
        ("messaging", "0005_verbose_name_plural"),
        ("wagtailcore", "0094_alter_page_locale"),
    ]

    operations = translatable_fields("messaging.EmailTemplate")
