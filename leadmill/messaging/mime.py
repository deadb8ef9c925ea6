"""The MIME form of an email, serialised with less work per message (ADR 50).

Django builds every email as a ``compat32`` :mod:`email` message, whose generator folds
each header through :class:`email.header.Header` (a tenth of a millisecond per email
on the headers alone) and, for a multipart email, draws a random boundary and compiles a
new regular expression to check it against the text (Python's pattern cache misses every
time). Sending two emails per lead, that was most of what the worker spent on an email
after rendering it.

:class:`LeanEmail` is Django's :class:`~django.core.mail.EmailMultiAlternatives` with two
changes to its MIME message, and the same bytes otherwise:

- a header that already fits on one line (printable ASCII, single spaces, at most 78
  characters with its name) is written as it is — what ``Header`` returns for it; any
  other header is folded by ``compat32`` as before;
- the multipart boundary is drawn from :func:`secrets.token_hex` up front (128 random
  bits: text cannot contain it by chance, and nobody knows it before the email is made),
  so the generator has nothing to check.
"""

from __future__ import annotations

import re
import secrets
from email.policy import Compat32

from django.core.mail import EmailMultiAlternatives

# What Header.encode leaves untouched: printable ASCII words separated by single spaces.
_ONE_LINE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*\Z")


class _OneLineHeaders(Compat32):
    """``compat32`` that writes a header fitting on one line without folding it."""

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and self.max_line_length
            and len(name) + 2 + len(value) <= self.max_line_length
            and _ONE_LINE.match(value)
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


ONE_LINE_HEADERS = _OneLineHeaders()


class LeanEmail(EmailMultiAlternatives):
    """An email whose MIME message serialises with less work (see the module's text)."""

    def message(self):
        mime = super().message()
        mime.policy = ONE_LINE_HEADERS
        if mime.is_multipart():
            mime.set_boundary(f"==============={secrets.token_hex(16)}==")
        return mime
