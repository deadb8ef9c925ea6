from django.urls import path

from . import views

app_name = "tracking"

urlpatterns = [
    path("collect", views.collect, name="collect"),
    path("p.gif", views.pixel, name="pixel"),
    path("lm.js", views.script, name="script"),
]
