"""Fixtures of the analytics tests."""

import pytest


@pytest.fixture
def admin(client, django_user_model):
    """A test client signed in to the back office as a superuser."""
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client
