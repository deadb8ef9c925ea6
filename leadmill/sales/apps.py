from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "leadmill.sales"
    label = "sales"
    verbose_name = _("Sales")

    def ready(self):
        from django.db.models.signals import post_migrate

        from leadmill.contacts.events import StageChanged
        from leadmill.core import events, registry
        from leadmill.core.personal_data import register_personal_data
        from leadmill.nurture.events import OwnerNotificationRequested

        from . import handlers, selectors
        from .events import OwnerAssigned
        from .personal_data import PERSONAL_DATA

        events.subscribe(StageChanged, handlers.assign_new_mql, batch=True)
        events.subscribe(OwnerAssigned, handlers.notify_new_owner, batch=True)
        events.subscribe(OwnerNotificationRequested, handlers.notify_owner_of_sequence_step)
        registry.register_timeline(selectors.activity_timeline)
        register_personal_data(*PERSONAL_DATA)
        post_migrate.connect(_sales_permissions_after_migrate, sender=self)


def _sales_permissions_after_migrate(sender, using="default", **kwargs):
    """Every ``migrate`` grants the Sales and Admin groups their sales permissions.

    Set-up, not domain logic (as core's groups). Auth creates an app's permissions in its
    own ``post_migrate`` receiver, which may run after this one: create them first.
    """
    from django.contrib.auth.management import create_permissions

    from .setup import sales_groups_ensure

    create_permissions(sender, verbosity=0, using=using)
    sales_groups_ensure()
