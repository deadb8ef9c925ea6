from django.urls import path

from . import views

app_name = "capture"

urlpatterns = [
    path("f/<slug:slug>/", views.form_post, name="form_post"),
    path("f/<slug:slug>/embed/", views.form_embed, name="form_embed"),
    path("f/<slug:slug>/thanks/", views.form_thanks, name="form_thanks"),
    path("f/<slug:slug>/start/", views.form_start, name="form_start"),
    # After the form's own paths, so a form may still be called "confirm".
    path("f/confirm/<str:token>/", views.opt_in_confirm, name="opt_in_confirm"),
    path("c/<slug:slug>/", views.cta_redirect, name="cta"),
    path("d/<str:token>/", views.offer_download, name="offer_download"),
    path("d/<str:token>/event.ics", views.offer_calendar_download, name="offer_calendar"),
]
