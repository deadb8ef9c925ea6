from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("capture", "0004_submission_fewer_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="form",
            name="progressive_profiling",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "On Leadmill's pages, a known lead is not asked again for what it already told us: "
                    'those fields give their place to the fields marked "ask known leads only".'
                ),
                verbose_name="progressive profiling",
            ),
        ),
        migrations.AddField(
            model_name="formfield",
            name="progressive",
            field=models.BooleanField(
                default=False,
                help_text="With progressive profiling: asked, in order, in place of fields a known lead already answered.",
                verbose_name="ask known leads only",
            ),
        ),
    ]
