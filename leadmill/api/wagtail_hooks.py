"""Back-office screens of the API: its keys (views in ``admin_keys.py``), under Settings."""

from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from .admin_keys import (
    KEY_ADD_URL_NAME,
    KEY_REVOKE_URL_NAME,
    KEYS_URL_NAME,
    PERMISSION,
    ApiKeyCreateView,
    ApiKeyListView,
    ApiKeyRevokeView,
)


class ApiKeysMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(PERMISSION)


@hooks.register("register_admin_urls")
def register_api_key_urls():
    return [
        path("api-keys/", ApiKeyListView.as_view(), name=KEYS_URL_NAME),
        path("api-keys/new/", ApiKeyCreateView.as_view(), name=KEY_ADD_URL_NAME),
        path("api-keys/<int:pk>/revoke/", ApiKeyRevokeView.as_view(), name=KEY_REVOKE_URL_NAME),
    ]


@hooks.register("register_settings_menu_item")
def register_api_keys_menu_item():
    return ApiKeysMenuItem(_("API keys"), reverse(KEYS_URL_NAME), icon_name="key", order=900)
