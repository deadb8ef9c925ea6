"""The steps of a sequence, as StreamField blocks: marketers build a sequence in the admin by
adding steps; each block's stable id is what an enrollment points at, so editing a sequence
never loses anyone's place."""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.snippets.blocks import SnippetChooserBlock


class SendEmailBlock(blocks.StructBlock):
    template = SnippetChooserBlock("nurture.EmailTemplate", label=_("email"))

    class Meta:
        icon = "mail"
        label = _("Send email")


class WaitBlock(blocks.StructBlock):
    days = blocks.IntegerBlock(label=_("days"), min_value=0, default=0, required=False)
    hours = blocks.IntegerBlock(label=_("hours"), min_value=0, default=0, required=False)
    minutes = blocks.IntegerBlock(label=_("minutes"), min_value=0, default=0, required=False)
    weekdays = blocks.MultipleChoiceBlock(
        label=_("then until one of these weekdays"), required=False,
        choices=[
            ("0", _("Monday")), ("1", _("Tuesday")), ("2", _("Wednesday")), ("3", _("Thursday")),
            ("4", _("Friday")), ("5", _("Saturday")), ("6", _("Sunday")),
        ],
    )
    window_start = blocks.TimeBlock(label=_("not before (contact's time)"), required=False)
    window_end = blocks.TimeBlock(label=_("not after (contact's time)"), required=False)

    class Meta:
        icon = "time"
        label = _("Wait")


class BranchBlock(blocks.StructBlock):
    condition = blocks.ChoiceBlock(
        label=_("if the lead"),
        choices=[
            ("opened", _("opened the email of step")),
            ("clicked", _("clicked in the email of step")),
            ("visited", _("visited a page whose address contains")),
            ("in_segment", _("is in segment")),
            ("stage", _("is at lifecycle stage")),
            ("temperature", _("has temperature")),
            ("score_at_least", _("has a total score of at least")),
            ("field_equals", _("has field = value (field=value)")),
        ],
    )
    step_label = blocks.CharBlock(label=_("step (label)"), required=False)
    value = blocks.CharBlock(label=_("value"), required=False)
    segment = SnippetChooserBlock("nurture.Segment", label=_("segment"), required=False)
    then_go_to = blocks.CharBlock(
        label=_("then go to step (label)"), required=False,
        help_text=_("Empty: continue with the next step."),
    )
    else_go_to = blocks.CharBlock(
        label=_("otherwise go to step (label)"), required=False,
        help_text=_("Empty: continue with the next step."),
    )

    class Meta:
        icon = "fork"
        label = _("Branch")


class UpdateContactBlock(blocks.StructBlock):
    field = blocks.ChoiceBlock(
        label=_("set"),
        choices=[
            ("lifecycle_stage", _("lifecycle stage")),
            ("temperature", _("temperature")),
            ("custom", _("custom field (key=value)")),
        ],
    )
    value = blocks.CharBlock(label=_("to"))

    class Meta:
        icon = "edit"
        label = _("Update the lead")


class AddPointsBlock(blocks.StructBlock):
    points = blocks.IntegerBlock(label=_("points"))
    reason = blocks.CharBlock(label=_("reason"), required=False)

    class Meta:
        icon = "plus"
        label = _("Add points")


class NotifyOwnerBlock(blocks.StructBlock):
    message = blocks.TextBlock(label=_("message"))

    class Meta:
        icon = "user"
        label = _("Notify the owner")


class WebhookBlock(blocks.StructBlock):
    url = blocks.URLBlock(label=_("URL"))

    class Meta:
        icon = "link"
        label = _("Call a webhook")


class EndBlock(blocks.StaticBlock):
    class Meta:
        icon = "cross"
        label = _("End")
        admin_text = _("The lead leaves the sequence here.")


class StepBlock(blocks.StreamBlock):
    """A labelled step is a branch target: each child carries an optional ``label``."""

    send_email = SendEmailBlock()
    wait = WaitBlock()
    branch = BranchBlock()
    update = UpdateContactBlock()
    add_points = AddPointsBlock()
    notify_owner = NotifyOwnerBlock()
    webhook = WebhookBlock()
    end = EndBlock()
