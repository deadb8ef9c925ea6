"""Email templates and the message log move from nurture to messaging (ADR 24), step 2 of 3.

The message log's links to enrollments and broadcasts become plain ids (their foreign keys
are dropped: messaging sits below nurture and cannot point at its tables); then nurture lets
go of both models (state only: the rows stay where they are) and its broadcasts and sequence
steps point at messaging's ``EmailTemplate``.
"""

import django.db.models.deletion
import wagtail.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0002_email_from_nurture"),
        ("nurture", "0005_remove_sequence_exit_on_reply"),
    ]

    operations = [
        migrations.AlterField(
            model_name="message",
            name="enrollment",
            field=models.BigIntegerField(blank=True, null=True, db_column="enrollment_id"),
        ),
        migrations.AlterField(
            model_name="message",
            name="broadcast",
            field=models.BigIntegerField(blank=True, null=True, db_column="broadcast_id"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="broadcast",
                    name="template",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="messaging.emailtemplate",
                        verbose_name="email",
                    ),
                ),
                migrations.AlterField(
                    model_name='sequence',
                    name='steps',
                    field=wagtail.fields.StreamField([('send_email', 2), ('wait', 9), ('branch', 16), ('update', 19), ('add_points', 22), ('notify_owner', 24), ('webhook', 26), ('end', 27)], blank=True, block_lookup={0: ('wagtail.blocks.CharBlock', (), {'help_text': 'Optional. A short name branches can jump to, e.g. “email 1”.', 'label': 'label', 'max_length': 50, 'required': False}), 1: ('wagtail.snippets.blocks.SnippetChooserBlock', ('messaging.EmailTemplate',), {'label': 'email'}), 2: ('wagtail.blocks.StructBlock', [[('label', 0), ('template', 1)]], {}), 3: ('wagtail.blocks.IntegerBlock', (), {'default': 0, 'label': 'days', 'min_value': 0, 'required': False}), 4: ('wagtail.blocks.IntegerBlock', (), {'default': 0, 'label': 'hours', 'min_value': 0, 'required': False}), 5: ('wagtail.blocks.IntegerBlock', (), {'default': 0, 'label': 'minutes', 'min_value': 0, 'required': False}), 6: ('wagtail.blocks.MultipleChoiceBlock', [], {'choices': [('0', 'Monday'), ('1', 'Tuesday'), ('2', 'Wednesday'), ('3', 'Thursday'), ('4', 'Friday'), ('5', 'Saturday'), ('6', 'Sunday')], 'label': 'then until one of these weekdays', 'required': False}), 7: ('wagtail.blocks.TimeBlock', (), {'label': "not before (contact's time)", 'required': False}), 8: ('wagtail.blocks.TimeBlock', (), {'label': "not after (contact's time)", 'required': False}), 9: ('wagtail.blocks.StructBlock', [[('label', 0), ('days', 3), ('hours', 4), ('minutes', 5), ('weekdays', 6), ('window_start', 7), ('window_end', 8)]], {}), 10: ('wagtail.blocks.ChoiceBlock', [], {'choices': [('opened', 'opened the email of step'), ('clicked', 'clicked in the email of step'), ('visited', 'visited a page whose address contains'), ('in_segment', 'is in segment'), ('stage', 'is at lifecycle stage'), ('temperature', 'has temperature'), ('score_at_least', 'has a total score of at least'), ('field_equals', 'has field = value (field=value)')], 'label': 'if the lead'}), 11: ('wagtail.blocks.CharBlock', (), {'help_text': 'For opened / clicked. Empty: the last email sent before this branch.', 'label': 'step (label)', 'required': False}), 12: ('wagtail.blocks.CharBlock', (), {'label': 'value', 'required': False}), 13: ('wagtail.snippets.blocks.SnippetChooserBlock', ('nurture.Segment',), {'label': 'segment', 'required': False}), 14: ('wagtail.blocks.CharBlock', (), {'help_text': 'Empty: continue with the next step.', 'label': 'then go to step (label)', 'required': False}), 15: ('wagtail.blocks.CharBlock', (), {'help_text': 'Empty: continue with the next step.', 'label': 'otherwise go to step (label)', 'required': False}), 16: ('wagtail.blocks.StructBlock', [[('label', 0), ('condition', 10), ('step_label', 11), ('value', 12), ('segment', 13), ('then_go_to', 14), ('else_go_to', 15)]], {}), 17: ('wagtail.blocks.ChoiceBlock', [], {'choices': [('lifecycle_stage', 'lifecycle stage'), ('temperature', 'temperature'), ('custom', 'custom field (key=value)')], 'label': 'set'}), 18: ('wagtail.blocks.CharBlock', (), {'label': 'to'}), 19: ('wagtail.blocks.StructBlock', [[('label', 0), ('field', 17), ('value', 18)]], {}), 20: ('wagtail.blocks.IntegerBlock', (), {'label': 'points'}), 21: ('wagtail.blocks.CharBlock', (), {'label': 'reason', 'required': False}), 22: ('wagtail.blocks.StructBlock', [[('label', 0), ('points', 20), ('reason', 21)]], {}), 23: ('wagtail.blocks.TextBlock', (), {'label': 'message'}), 24: ('wagtail.blocks.StructBlock', [[('label', 0), ('message', 23)]], {}), 25: ('wagtail.blocks.URLBlock', (), {'label': 'URL'}), 26: ('wagtail.blocks.StructBlock', [[('label', 0), ('url', 25)]], {}), 27: ('wagtail.blocks.StructBlock', [[('label', 0)]], {})}, verbose_name='steps'),
                ),
                migrations.DeleteModel(name="Message"),
                migrations.DeleteModel(name="EmailTemplate"),
            ],
            database_operations=[],
        ),
    ]
