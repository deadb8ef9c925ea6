"""The plain-text part of a marketing email, generated from its HTML.

Run once per template on the marketer's source (personalisation tags included: they are
plain text to an HTML parser), so the per-message cost is only rendering the result.
Links are kept as ``text (url)``; headings, paragraphs, list items and line breaks keep
their shape; images leave their ``alt`` text; scripts and styles disappear.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "table",
        "tr",
        "blockquote",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "pre",
        "hr",
    }
)
_SKIP = frozenset({"script", "style", "head", "title", "template"})
_SPACES = re.compile(r"[ \t\r\f\v\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextWriter(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0
        self.links: list[tuple[str, int]] = []  # (href, position in out where the link text starts)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCK:
            self.out.append("\n\n")
        elif tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag == "td" or tag == "th":
            self.out.append(" ")
        elif tag == "img" and attributes.get("alt"):
            self.out.append(attributes["alt"])
        elif tag == "a":
            self.links.append(((attributes.get("href") or "").strip(), len(self.out)))
        if tag == "hr":
            self.out.append("----\n\n")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in _SKIP:
            self.skipping -= 1

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK:
            self.out.append("\n\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            text = _SPACES.sub(" ", "".join(self.out[start:])).strip()
            shown = href.removeprefix("mailto:")
            if href and not href.startswith("#") and text != shown:
                self.out.append(f" ({shown})" if text else shown)

    def handle_data(self, data):
        if not self.skipping:
            self.out.append(_SPACES.sub(" ", data))


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML fragment or document."""
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    lines = [line.strip() for line in "".join(writer.out).split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
