"""Settings of the benchmark server: Leadmill's own, with the bench URLconf on top.

Selected with ``DJANGO_SETTINGS_MODULE=bench_settings`` and ``bench/`` on ``PYTHONPATH``
(``leadmill.cli`` and ``leadmill.wsgi`` only set the module when it is unset), so the server
is the one ``leadmill web`` starts, with one more URL: the bare ceiling of bench_urls.py.
"""

from leadmill.settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
