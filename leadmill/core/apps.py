from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "leadmill.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from django.db.models import Field, ForeignObject
        from django.db.models.signals import post_migrate

        from . import checks  # noqa: F401 -- registers the system checks
        from .admin_i18n import snippet_chooser_texts_translated
        from .db import AnyOf

        Field.register_lookup(AnyOf)
        ForeignObject.register_lookup(AnyOf)  # relations keep a lookup table of their own

        snippet_chooser_texts_translated()
        post_migrate.connect(_groups_after_migrate, sender=self)
        _account_names_optional()


def _account_names_optional():
    """A back-office user changes their language or password on the account page without
    first giving a first name, a last name and an email: Wagtail's form for those demands
    all three, and its error showed on another tab, so the save just failed (issue 14)."""
    from wagtail.admin.forms.account import NameEmailForm

    for name in ("first_name", "last_name", "email"):
        if name in NameEmailForm.base_fields:
            NameEmailForm.base_fields[name].required = False


def _groups_after_migrate(sender, using="default", **kwargs):
    """Every ``migrate`` (leadmill run, or an operator's on a multi-machine deployment)
    creates or tops up the Marketing, Sales and Admin groups. Set-up, not domain logic."""
    from .setup import groups_ensure

    groups_ensure()
