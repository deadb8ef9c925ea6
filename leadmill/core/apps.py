from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "leadmill.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import checks  # noqa: F401 -- registers the system checks
        from .admin_i18n import snippet_chooser_texts_translated

        snippet_chooser_texts_translated()
        post_migrate.connect(_groups_after_migrate, sender=self)


def _groups_after_migrate(sender, using="default", **kwargs):
    """Every ``migrate`` (leadmill run, or an operator's on a multi-machine deployment)
    creates or tops up the Marketing, Sales and Admin groups. Set-up, not domain logic."""
    from .setup import groups_ensure

    groups_ensure()
