"""The JSON Schema pattern of core.text says exactly what text_problem accepts."""

import re

import pytest

from leadmill.core.text import text_json_schema_pattern, text_problem

pytestmark = pytest.mark.django_db  # the shared autouse fixtures read the database


@pytest.mark.parametrize("multiline", [False, True])
def test_the_pattern_accepts_every_character_text_problem_accepts_and_no_other(multiline):
    pattern = re.compile(text_json_schema_pattern(multiline=multiline))
    # Every class core.text names lies below U+0100 but U+FFFD; its neighbours and the ends too.
    characters = [
        chr(code) for code in [*range(0x800), 0x2028, 0xFEFF, 0xFFFC, 0xFFFD, 0xFFFE, 0x10FFFF]
    ]

    disagreements = [
        f"U+{ord(c):04X}"
        for c in characters
        if (pattern.search(f"a{c}b") is not None)
        != (text_problem(f"a{c}b", multiline=multiline) is None)
    ]

    assert disagreements == []
