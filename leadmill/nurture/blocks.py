"""The steps of a sequence, as StreamField blocks: marketers build a sequence in the admin by
adding steps; each block's stable id is what an enrollment points at, so editing a sequence
never loses anyone's place (see :func:`leadmill.nurture.services.enrollments_remap`).

Every step may carry a ``label``: the name a branch jumps to ("then go to step …") and the
name an "opened / clicked the email of step …" condition points at.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.snippets.blocks import SnippetChooserBlock

from leadmill.contacts.models import LifecycleStage, Temperature
from leadmill.core.outgoing import url_problem


class StepStructBlock(blocks.StructBlock):
    """A step with an optional label other steps can refer to."""

    label = blocks.CharBlock(
        label=_("label"),
        required=False,
        max_length=50,
        help_text=_("Optional. A short name branches can jump to, e.g. “email 1”."),
    )


class SendEmailBlock(StepStructBlock):
    template = SnippetChooserBlock("messaging.EmailTemplate", label=_("email"))

    class Meta:
        icon = "mail"
        label = _("Send email")


class WaitBlock(StepStructBlock):
    days = blocks.IntegerBlock(label=_("days"), min_value=0, default=0, required=False)
    hours = blocks.IntegerBlock(label=_("hours"), min_value=0, default=0, required=False)
    minutes = blocks.IntegerBlock(label=_("minutes"), min_value=0, default=0, required=False)
    weekdays = blocks.MultipleChoiceBlock(
        label=_("then until one of these weekdays"),
        required=False,
        choices=[
            ("0", _("Monday")),
            ("1", _("Tuesday")),
            ("2", _("Wednesday")),
            ("3", _("Thursday")),
            ("4", _("Friday")),
            ("5", _("Saturday")),
            ("6", _("Sunday")),
        ],
    )
    window_start = blocks.TimeBlock(label=_("not before (contact's time)"), required=False)
    window_end = blocks.TimeBlock(label=_("not after (contact's time)"), required=False)

    class Meta:
        icon = "time"
        label = _("Wait")

    def clean(self, value):
        value = super().clean(value)
        start, end = value.get("window_start"), value.get("window_end")
        if start and end and start >= end:
            raise StructBlockValidationError(
                block_errors={"window_end": ValidationError(_("Choose a time after “not before”."))}
            )
        return value


class BranchBlock(StepStructBlock):
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
    step_label = blocks.CharBlock(
        label=_("step (label)"),
        required=False,
        help_text=_("For opened / clicked. Empty: the last email sent before this branch."),
    )
    value = blocks.CharBlock(label=_("value"), required=False)
    segment = SnippetChooserBlock("segments.Segment", label=_("segment"), required=False)
    then_go_to = blocks.CharBlock(
        label=_("then go to step (label)"),
        required=False,
        help_text=_("Empty: continue with the next step."),
    )
    else_go_to = blocks.CharBlock(
        label=_("otherwise go to step (label)"),
        required=False,
        help_text=_("Empty: continue with the next step."),
    )

    class Meta:
        icon = "fork"
        label = _("Branch")

    def clean(self, value):
        value = super().clean(value)
        condition = value.get("condition")
        if condition == "in_segment" and not value.get("segment"):
            raise StructBlockValidationError(
                block_errors={"segment": ValidationError(_("Choose the segment."))}
            )
        needs_value = {"visited", "stage", "temperature", "score_at_least", "field_equals"}
        if condition in needs_value and not value.get("value"):
            raise StructBlockValidationError(
                block_errors={"value": ValidationError(_("Fill in the value to compare with."))}
            )
        if condition == "score_at_least" and not str(value.get("value", "")).lstrip("-").isdigit():
            raise StructBlockValidationError(
                block_errors={"value": ValidationError(_("Enter a whole number of points."))}
            )
        if condition == "field_equals" and "=" not in value.get("value", ""):
            raise StructBlockValidationError(
                block_errors={
                    "value": ValidationError(_("Write it as field=value, e.g. country=BR."))
                }
            )
        return value


class UpdateContactBlock(StepStructBlock):
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

    def clean(self, value):
        value = super().clean(value)
        allowed = {"lifecycle_stage": LifecycleStage.values, "temperature": Temperature.values}.get(
            value.get("field")
        )
        target = (value.get("value") or "").strip()
        if allowed is not None and target not in allowed:
            raise StructBlockValidationError(
                block_errors={
                    "value": ValidationError(
                        _("Use one of: %(values)s.") % {"values": ", ".join(allowed)}
                    )
                }
            )
        if value.get("field") == "custom" and "=" not in target:
            raise StructBlockValidationError(
                block_errors={"value": ValidationError(_("Write it as key=value, e.g. plan=pro."))}
            )
        return value


class AddPointsBlock(StepStructBlock):
    points = blocks.IntegerBlock(label=_("points"))
    reason = blocks.CharBlock(label=_("reason"), required=False)

    class Meta:
        icon = "plus"
        label = _("Add points")


class NotifyOwnerBlock(StepStructBlock):
    message = blocks.TextBlock(label=_("message"))

    class Meta:
        icon = "user"
        label = _("Notify the owner")


class WebhookBlock(StepStructBlock):
    url = blocks.URLBlock(label=_("URL"))

    def clean(self, value):
        value = super().clean(value)
        problem = url_problem(value.get("url") or "", unknown_host_ok=True)
        if problem:
            raise StructBlockValidationError(block_errors={"url": ValidationError(problem)})
        return value

    class Meta:
        icon = "link"
        label = _("Call a webhook")


class EndBlock(blocks.StaticBlock):
    """The first, label-less end step; kept because migration 0001 refers to it."""

    class Meta:
        icon = "cross"
        label = _("End")
        admin_text = _("The lead leaves the sequence here.")


class EndStepBlock(StepStructBlock):
    class Meta:
        icon = "cross"
        label = _("End")
        help_text = _("The lead leaves the sequence here (completed).")


class StepBlock(blocks.StreamBlock):
    """A labelled step is a branch target: each child carries an optional ``label``.

    Checks across steps: labels are unique, and every label a branch names exists.
    """

    send_email = SendEmailBlock()
    wait = WaitBlock()
    branch = BranchBlock()
    update = UpdateContactBlock()
    add_points = AddPointsBlock()
    notify_owner = NotifyOwnerBlock()
    webhook = WebhookBlock()
    end = EndStepBlock()

    def clean(self, value):
        value = super().clean(value)
        labels: dict[str, int] = {}
        errors: dict[int, ValidationError] = {}
        for index, child in enumerate(value):
            label = (child.value.get("label") or "").strip()
            if label and label in labels:
                errors[index] = ValidationError(
                    _("Another step is already labelled “%(label)s”.") % {"label": label}
                )
            elif label:
                labels[label] = index
        for index, child in enumerate(value):
            if child.block_type != "branch":
                continue
            for key in ("step_label", "then_go_to", "else_go_to"):
                target = (child.value.get(key) or "").strip()
                if target and target not in labels:
                    errors[index] = ValidationError(
                        _("No step is labelled “%(label)s”.") % {"label": target}
                    )
        if errors:
            raise blocks.StreamBlockValidationError(block_errors=errors)
        return value
