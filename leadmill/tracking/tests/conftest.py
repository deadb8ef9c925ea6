import pytest


@pytest.fixture(autouse=True)
def _fresh_tracking_config():
    """Bot rules and sites are cached per process; every test starts from the database."""
    from ..selectors import config_cache_clear

    config_cache_clear()
    yield
    config_cache_clear()
