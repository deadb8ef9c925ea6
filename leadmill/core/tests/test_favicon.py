"""The site's icon: ``/favicon.ico`` answers with the icon among the static files, and the
public pages link it."""

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static

from leadmill.capture.tests.factories import FormFactory

pytestmark = pytest.mark.django_db


def test_favicon_ico_leads_to_the_icon_among_the_static_files(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == static("core/favicon.ico")
    with open(finders.find("core/favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO file's header


@pytest.mark.parametrize("path", ["/f/ebook/thanks/", "/e/u/not-a-token"])
def test_public_pages_link_the_sites_icon(client, path):
    # Given a form's thank-you page and an email link's page (here: an unknown link)
    FormFactory(slug="ebook")

    # When one is read
    response = client.get(path)

    # Then it names the site's icon, so browsers need not guess /favicon.ico
    html = response.content.decode()
    svg, ico = static("core/favicon.svg"), static("core/favicon.ico")
    assert f'<link rel="icon" href="{svg}" type="image/svg+xml">' in html
    assert f'<link rel="icon" href="{ico}" sizes="32x32">' in html
