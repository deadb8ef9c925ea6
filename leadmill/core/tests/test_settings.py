"""Settings read from environment variables (docs/configuration.md).

Each test imports the settings in a fresh interpreter with a chosen environment, because
the settings of the running test process are fixed at start-up.
"""

import json
import os
import subprocess
import sys

import pytest

# The shared conftest clears the cache (a database table by default) around every test.
pytestmark = pytest.mark.django_db

# Variables that choose the deployment shape; cleared so the parent's values do not leak in.
DEPLOYMENT_VARIABLES = ("DATABASE_URL", "REDIS_URL", "EMAIL_URL", "EMAIL_HOST", "HUEY_IMMEDIATE")


def settings_in_subprocess(tmp_path, env: dict[str, str], code: str) -> dict:
    """Run ``code`` after ``django.setup()`` in a child with ``env``; return what it prints as JSON."""
    child_env = {key: value for key, value in os.environ.items() if key not in DEPLOYMENT_VARIABLES}
    child_env.update(
        {
            "DJANGO_SETTINGS_MODULE": "leadmill.settings",
            "LEADMILL_DATA_DIR": str(tmp_path / "data"),
            "LEADMILL_TESTING": "1",
            **env,
        }
    )
    script = "import json, django\ndjango.setup()\n" + code
    completed = subprocess.run(
        [sys.executable, "-c", script],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_database_url_selects_postgresql(tmp_path):
    values = settings_in_subprocess(
        tmp_path,
        {
            "DATABASE_URL": "postgresql://leadmill:secret@db.internal:6432/leads",
            "DB_CONN_MAX_AGE": "120",
        },
        "from django.conf import settings\n"
        "db = settings.DATABASES['default']\n"
        "print(json.dumps({key: db[key] for key in ('ENGINE', 'NAME', 'USER', 'HOST', 'PORT', 'CONN_MAX_AGE',"
        " 'CONN_HEALTH_CHECKS')}))",
    )

    assert values == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "leads",
        "USER": "leadmill",
        "HOST": "db.internal",
        "PORT": 6432,
        "CONN_MAX_AGE": 120,
        "CONN_HEALTH_CHECKS": True,
    }


def test_without_database_url_sqlite_runs_in_wal_mode_under_the_data_dir(tmp_path):
    values = settings_in_subprocess(
        tmp_path,
        {},
        "from django.conf import settings\n"
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    pragmas = {name: cursor.execute(f'PRAGMA {name}').fetchone()[0]\n"
        "               for name in ('journal_mode', 'busy_timeout', 'foreign_keys', 'synchronous')}\n"
        "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'],\n"
        "                  'name': settings.DATABASES['default']['NAME'], **pragmas}))",
    )

    assert values == {
        "engine": "django.db.backends.sqlite3",
        "name": str((tmp_path / "data" / "leadmill.sqlite3").resolve()),
        "journal_mode": "wal",
        "busy_timeout": 20000,
        "foreign_keys": 1,
        "synchronous": 1,  # NORMAL
    }
    assert (tmp_path / "data" / "leadmill.sqlite3").exists()


def test_redis_url_moves_huey_and_the_cache_to_redis(tmp_path):
    values = settings_in_subprocess(
        tmp_path,
        {"REDIS_URL": "redis://cache.internal:6380/2"},
        "from django.conf import settings\n"
        "from django.core.cache import caches\n"
        "from huey.contrib.djhuey import HUEY\n"
        "print(json.dumps({'huey': type(HUEY).__name__, 'huey_url': settings.HUEY['url'],\n"
        "                  'cache': type(caches['default']).__name__, 'cache_location': settings.CACHES['default']['LOCATION']}))",
    )

    assert values == {
        "huey": "PriorityRedisHuey",
        "huey_url": "redis://cache.internal:6380/2",
        "cache": "RedisCache",
        "cache_location": "redis://cache.internal:6380/2",
    }


def test_without_redis_url_huey_and_the_cache_stay_in_the_data_dir_and_database(tmp_path):
    values = settings_in_subprocess(
        tmp_path,
        {},
        "from django.conf import settings\n"
        "from django.core.cache import caches\n"
        "from huey.contrib.djhuey import HUEY\n"
        "print(json.dumps({'huey': type(HUEY).__name__, 'huey_file': settings.HUEY['filename'],\n"
        "                  'cache': type(caches['default']).__name__}))",
    )

    assert values == {
        "huey": "SqliteHuey",
        "huey_file": str((tmp_path / "data" / "huey.sqlite3").resolve()),
        "cache": "DatabaseCache",
    }


@pytest.mark.parametrize(
    ("email_url", "expected"),
    [
        ("smtp://mailer.internal:2525", ["mailer.internal", 2525, "", "", False, False]),
        (
            "submission://user%40example.com:p%2Fss@smtp.example.com:587",
            ["smtp.example.com", 587, "user@example.com", "p/ss", True, False],
        ),
        (
            "smtps://user:pass@smtp.example.com:465",
            ["smtp.example.com", 465, "user", "pass", False, True],
        ),
    ],
)
def test_email_url_configures_smtp(tmp_path, email_url, expected):
    values = settings_in_subprocess(
        tmp_path,
        {"EMAIL_URL": email_url},
        "from django.conf import settings as s\n"
        "print(json.dumps([s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER,"
        " s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL]))",
    )

    assert values == ["leadmill.messaging.backends.SMTPEmailBackend", *expected]


def test_without_email_settings_mail_goes_to_the_outbox(tmp_path):
    values = settings_in_subprocess(
        tmp_path, {}, "from django.conf import settings\nprint(json.dumps(settings.EMAIL_BACKEND))"
    )

    assert values == "leadmill.messaging.backends.OutboxEmailBackend"


def test_secret_key_is_generated_once_into_the_data_dir_when_not_set(tmp_path):
    code = "from django.conf import settings\nprint(json.dumps(settings.SECRET_KEY))"

    first = settings_in_subprocess(tmp_path, {"SECRET_KEY": ""}, code)
    second = settings_in_subprocess(tmp_path, {"SECRET_KEY": ""}, code)
    chosen = settings_in_subprocess(
        tmp_path, {"SECRET_KEY": "x" * 10 + "from-the-environment"}, code
    )

    assert len(first) == 64
    assert second == first
    assert (tmp_path / "data" / "secret_key").read_text().strip() == first
    assert oct((tmp_path / "data" / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert chosen == "xxxxxxxxxxfrom-the-environment"


def test_behind_proxy_trusts_x_forwarded_proto(tmp_path):
    code = "from django.conf import settings\nprint(json.dumps(settings.SECURE_PROXY_SSL_HEADER))"

    behind = settings_in_subprocess(tmp_path, {"LEADMILL_BEHIND_PROXY": "1"}, code)
    direct = settings_in_subprocess(tmp_path, {"LEADMILL_BEHIND_PROXY": ""}, code)

    assert behind == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert direct is None
