"""Why an enrollment ended: the texts kept in ``Enrollment.exit_reason``."""

from django.utils.translation import gettext_noop


class Reason:
    """Why an enrollment ended, as kept in ``exit_reason``: English, shown translated
    (:func:`.selectors.exit_reason_text`)."""

    LAST_STEP = gettext_noop("reached the last step")
    END_STEP = gettext_noop("reached an end step")
    STEP_REMOVED = gettext_noop("its step was removed from the sequence")
    LOOP = gettext_noop("the sequence loops without a wait")
    CANNOT_EMAIL = gettext_noop("cannot be emailed (no address, bounced or complained)")
    NO_CONSENT = gettext_noop("unsubscribed or no marketing consent")
    UNSUBSCRIBED = gettext_noop("unsubscribed")
    EXIT_STAGE = gettext_noop("reached an exit stage")  # stored as "<this>: <stage>"
