"""Public endpoints of marketing email: open pixel, click redirect, unsubscribe, preferences."""

from django.urls import path

from . import views

app_name = "nurture"
urlpatterns = [
    path("o/<str:token>.gif", views.open_pixel, name="open"),
    path("c/<str:token>", views.click_redirect, name="click"),
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
    path("p/<str:token>", views.preferences, name="preferences"),
]
