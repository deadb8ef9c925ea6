from django.db import migrations, models


def fill_again(apps, schema_editor):
    """The CTA of the leads of the days filled so far is unknown: forget the fill state, so
    the next fill counts every day again (reports count from the raw tables until then)."""
    apps.get_model("analytics", "FillState").objects.filter(name="daily_counts").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_page_count"),
    ]

    operations = [
        migrations.AddField(
            model_name="dailycount",
            name="cta",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
        migrations.RunPython(fill_again, migrations.RunPython.noop),
    ]
