"""The form's embed panel in headless Chromium (issue 14, item 12): a site that is not in the
form's allowed origins gets no form and its owner reads why in the browser console; the form's
admin page shows the embed code with a copy button beside the allowed origins, and lists the
site that was refused. In English and Brazilian Portuguese, at 1366 and 390 px."""

import pytest
from django.contrib.auth import get_user_model
from wagtail.models import Page

from ..demo import demo_seed
from ..models import Form
from .test_browser import expect, partner_site, save_screenshot, screenshots_dir  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password-43"


@pytest.mark.parametrize("language,width,height", [("en", 1366, 900), ("pt-br", 390, 844)])
def test_a_refused_site_is_told_why_and_the_form_page_names_it_beside_the_embed_code(
    browser,
    live_server,
    settings,
    partner_site,  # noqa: F811 (the fixture imported above)
    screenshots_dir,  # noqa: F811
    language,
    width,
    height,
):
    from wagtail.users.models import UserProfile

    # Given the demo, whose e-book form lists no other site, and a marketer
    settings.BASE_URL = live_server.url
    demo_seed()
    assert Page.objects.filter(depth=1).exists()  # the demo made Wagtail's tree again
    marketer = get_user_model().objects.create_superuser("mia", "mia@example.com", PASSWORD)
    profile = UserProfile.get_for_user(marketer)
    profile.preferred_language = language
    profile.save()
    form = Form.objects.get(slug="ebook")
    context = browser.new_context(viewport={"width": width, "height": height})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append((message.type, message.text)))

    # When a partner's page embeds the form without being allowed to
    page.goto(f"{partner_site}/blog/post")
    page.wait_for_function("document.querySelector('[data-leadmill-form]').dataset.leadmillMounted")
    expect(page.locator("[data-leadmill-form] form")).to_have_count(0)
    page.wait_for_timeout(200)  # the refusal's answer is read after the mount mark

    # Then its owner reads in the console what to fix
    assert (
        "error",
        f"Leadmill: this site ({partner_site}) may not show the form “ebook”. In Leadmill, "
        f"add {partner_site} to the form's allowed origins (Forms → the form → Embed on other "
        "sites).",
    ) in console

    # When the marketer opens the form in the back office
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill("mia")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/snippets/capture/form/edit/{form.pk}/")

    # Then the embed code is beside the allowed origins, with a button that copies it
    code = page.locator(f"#lm-embed-code-{form.pk}")
    expect(code).to_have_text(
        '<div data-leadmill-form="ebook"></div>\n'
        f'<script src="{live_server.url}/static/capture/embed.js" async></script>'
    )
    copy = {"en": "Copy the embed code", "pt-br": "Copiar o código de incorporação"}[language]
    page.get_by_role("button", name=copy).click()
    copied = {"en": "Embed code copied.", "pt-br": "Código de incorporação copiado."}[language]
    expect(page.get_by_role("status").filter(has_text=copied)).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == code.text_content()

    # And the refused site is listed
    refused = page.locator(".lm-refused-origins")
    expect(refused.locator("code")).to_have_text(partner_site)
    code.scroll_into_view_if_needed()
    save_screenshot(page, screenshots_dir / f"form-embed-{language}-{width}.png")
    context.close()
