"""The submissions listing's "Reprocess" bulk action (issue 12 item 18).

A submission stored as spam (a quick person's autofill can look like a bot) or ended in
error (and given up after its retries) is not a dead end: a person selects it in the
listing and reprocesses it (:func:`.services.submission_reprocess`).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin.views.bulk_action import BulkAction

from . import services
from .models import Submission


class SubmissionReprocessBulkAction(BulkAction):
    display_name = _("Reprocess")
    action_type = "reprocess"
    aria_label = _("Reprocess the selected submissions")
    template_name = "capture/admin/confirm_bulk_reprocess.html"
    models = [Submission]
    action_priority = 10

    def check_perm(self, obj) -> bool:
        return (
            self.request.user.has_perm("capture.change_submission")
            and obj.status in services.REPROCESSABLE
        )

    def object_context(self, obj):
        return {"item": obj, "status": obj.get_status_display(), "spam_reason": obj.spam_reason}

    @classmethod
    def execute_action(cls, objects, **kwargs):
        outcomes = [services.submission_reprocess(submission_id=obj.pk) for obj in objects]
        kwargs["self"].outcomes = outcomes
        return len(outcomes), 0

    def get_execution_context(self):
        return {"self": self}

    def get_success_message(self, num_parent_objects, num_child_objects):
        accepted = self.outcomes.count(Submission.Status.ACCEPTED)
        rejected = self.outcomes.count(Submission.Status.REJECTED)
        failed = self.outcomes.count(Submission.Status.ERROR)
        parts = [
            ngettext(
                "%(count)d submission became a lead.",
                "%(count)d submissions became leads.",
                accepted,
            )
            % {"count": accepted}
        ]
        if rejected:
            parts.append(
                ngettext(
                    "%(count)d was invalid and is now rejected.",
                    "%(count)d were invalid and are now rejected.",
                    rejected,
                )
                % {"count": rejected}
            )
        if failed:
            parts.append(
                ngettext(
                    "%(count)d failed again and will be retried.",
                    "%(count)d failed again and will be retried.",
                    failed,
                )
                % {"count": failed}
            )
        return " ".join(parts)
