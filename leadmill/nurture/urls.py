"""Public endpoints of marketing email: open pixel, click redirect, unsubscribe, preferences."""

app_name = "nurture"
urlpatterns: list = []
