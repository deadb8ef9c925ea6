"""Public endpoints of email: open pixel, click redirect, unsubscribe, preferences.

Mounted under ``/e/``. The paths never change: links in emails sent years ago use them.
"""

from django.urls import path

from . import views

app_name = "messaging"
urlpatterns = [
    path("o/<str:token>.gif", views.open_pixel, name="open"),
    path("c/<str:token>", views.click_redirect, name="click"),
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
    path("p/<str:token>", views.preferences, name="preferences"),
]
