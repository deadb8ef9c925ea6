"""``makemessages`` that also extracts ``_g(...)``.

Modules that need both the lazy and the eager gettext import ``gettext_lazy as _`` and
``gettext as _g``; xgettext only knows the standard names, so without ``--keyword=_g`` those
strings would never reach ``locale/`` (and a plain run would drop their translations).
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=_g"]
