"""Bot rules become additions to crawlerdetect's maintained list, and exceptions to it.

Adds ``BotRule.action`` ("bot", or "allow" for an exception), then removes the seeded rules
of 0002 that crawlerdetect's list covers (checked against it when this was written), where
they are still as seeded and active. Kept: the five seeded rules it does not cover
(archive.org, Selenium, Preview, monitor, Java/) and every rule an admin added or edited.
"""

import importlib

from django.db import migrations, models

_seed = importlib.import_module("leadmill.tracking.migrations.0002_seed_bot_rules")
NOT_COVERED = frozenset({"archive.org", "Selenium", "Preview", "monitor", "Java/"})
COVERED_BY_CRAWLERDETECT = [
    (pattern, "substring", description)
    for pattern, description in _seed.SUBSTRINGS
    if pattern not in NOT_COVERED
] + [(pattern, "regex", description) for pattern, description in _seed.REGEXES]


def unseed_covered(apps, schema_editor):
    BotRule = apps.get_model("tracking", "BotRule")
    for pattern, kind, description in COVERED_BY_CRAWLERDETECT:
        BotRule.objects.filter(
            pattern=pattern, kind=kind, description=description, is_active=True, action="bot"
        ).delete()


def reseed_covered(apps, schema_editor):
    BotRule = apps.get_model("tracking", "BotRule")
    BotRule.objects.bulk_create(
        [
            BotRule(pattern=pattern, kind=kind, description=description)
            for pattern, kind, description in COVERED_BY_CRAWLERDETECT
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0003_visitor_rows_off_the_request_path"),
    ]

    operations = [
        migrations.AddField(
            model_name="botrule",
            name="action",
            field=models.CharField(
                choices=[("bot", "Is a bot"), ("allow", "Is a person (an exception)")],
                default="bot",
                help_text="An exception makes a user agent a person's even when it is on the list of known crawlers or matches another rule.",
                max_length=10,
                verbose_name="a user agent it matches",
            ),
        ),
        migrations.RunPython(unseed_covered, reseed_covered),
    ]
