"""Segments move to their own app (issue 13), step 1 of 3: their tables take the new app's
names (``nurture_segment`` → ``segments_segment`` …), rows, ids and constraints kept.

Step 2 (``segments/0001_initial``) gives the models to the segments app without touching
the database; step 3 (``0007_segments_moved_out``) points nurture's foreign keys at them.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("nurture", "0005_remove_sequence_exit_on_reply"),
    ]

    operations = [
        migrations.AlterModelTable(name="segment", table="segments_segment"),
        migrations.AlterModelTable(name="segmentmember", table="segments_segmentmember"),
        migrations.AlterModelTable(name="segmententry", table="segments_segmententry"),
    ]
