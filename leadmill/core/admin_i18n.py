"""The back office in the reader's language where Wagtail words a text only once.

Wagtail's snippet chooser (``AdminSnippetChooser``) formats "Choose %(object)s", "Choose
another %(object)s" and "Edit this %(object)s" when the widget is built, and Wagtail builds
one per snippet model when the model is registered, in the language active at start-up: a
Brazilian marketer read "Choose offer" and "Choose segment" in the sequence editor (issue 14,
item 16). These texts are read at render time instead, in the reader's language.
"""

from __future__ import annotations

from django.utils.translation import gettext


def _worded_when_read(message: str) -> property:
    def read(widget) -> str:
        return gettext(message) % {"object": widget.model._meta.verbose_name}

    # Wagtail's __init__ assigns the text once; that value is the one replaced here.
    return property(read, lambda widget, value: None)


def snippet_chooser_texts_translated() -> None:
    """Make the snippet chooser's texts follow the language of each request."""
    from wagtail.snippets.widgets import AdminSnippetChooser

    AdminSnippetChooser.choose_one_text = _worded_when_read("Choose %(object)s")
    AdminSnippetChooser.choose_another_text = _worded_when_read("Choose another %(object)s")
    AdminSnippetChooser.link_to_chosen_text = _worded_when_read("Edit this %(object)s")
