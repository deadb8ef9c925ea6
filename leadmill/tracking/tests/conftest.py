import pytest


@pytest.fixture(autouse=True)
def _fresh_tracking_config():
    """Bot rules and sites are cached per process, and so is the collect rate count; every
    test starts from the database and a zero count."""
    from leadmill.core.ratelimit import rate_limits_in_memory_clear

    from ..selectors import config_cache_clear
    from ..wsgi import fast_collect_caches_clear

    config_cache_clear()
    fast_collect_caches_clear()  # what the fast path worked out of the settings
    rate_limits_in_memory_clear()  # the collect limit is counted per process
    yield
    config_cache_clear()
    fast_collect_caches_clear()
    rate_limits_in_memory_clear()
