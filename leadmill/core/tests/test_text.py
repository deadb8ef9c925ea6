"""The one input edge for text (leadmill.core.text)."""

import math

import pytest
from django import forms

from leadmill.core.errors import ValidationFailed
from leadmill.core.text import (
    MAX_INT,
    TextValidator,
    bytes_decode,
    json_object_decode,
    text_for_export,
    text_for_storage,
    text_problem,
    value_problem,
)

pytestmark = pytest.mark.django_db  # the shared fixtures clear caches held in the database


@pytest.mark.parametrize(
    "value", ["Ana", "São Paulo", "日本語", "emoji 🎉", "tab\there", "", "a  b"]
)
def test_ordinary_single_line_text_is_accepted(value):
    assert text_problem(value) is None


@pytest.mark.parametrize(
    "value", ["\ud800", "a\udfffb", "x\ufffdy", "\x00", "a\x01", "a\x0bb", "\x7f", "\x85", "\x9f"]
)
def test_surrogates_replacement_and_control_characters_are_refused(value):
    assert text_problem(value) is not None
    assert text_problem(value, multiline=True) is not None


def test_line_breaks_are_allowed_only_in_multi_line_text():
    assert text_problem("one\ntwo\r\nthree", multiline=True) is None
    assert text_problem("one\ntwo") == "Line breaks are not allowed here; write it on one line."


def test_the_message_names_the_control_character():
    assert "U+000B" in text_problem("Ana\x0b")


def test_invalid_encoding_gets_an_encoding_message():
    assert text_problem("%\ufffd") == "This text is not valid UTF-8; send it again as UTF-8 text."


def test_bytes_decode_is_strict_and_says_where():
    assert bytes_decode("ação".encode()) == "ação"
    with pytest.raises(ValidationFailed) as caught:
        bytes_decode(b"ok\xff\xfe")
    assert "byte 2" in caught.value.message


@pytest.mark.parametrize(
    "value",
    [{"a": [1, 2.5, True, None, "x\ny"]}, [], {}, "plain", MAX_INT, -MAX_INT, 0.0],
)
def test_ordinary_json_values_are_accepted(value):
    assert value_problem(value) is None


@pytest.mark.parametrize(
    "value",
    [
        {"n": math.nan},
        [math.inf],
        {"n": -math.inf},
        [2**70],
        {"k\x00": 1},
        {"k": "\ud800"},
        {str(i): i for i in range(101)},
        {1: "x"},
        {"x": object()},
    ],
)
def test_hostile_json_values_are_refused(value):
    assert value_problem(value) is not None


def test_depth_is_bounded_without_recursion():
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    assert value_problem(deep) == "This value is nested too deeply (at most 5 levels)."
    assert value_problem({"a": {"b": {"c": {"d": 1}}}}) is None


def test_the_validator_refuses_in_a_django_form():
    class NameForm(forms.Form):
        name = forms.CharField(validators=[TextValidator()])
        note = forms.CharField(validators=[TextValidator(multiline=True)])

    form = NameForm(data={"name": "Ana\x0bMaria", "note": "one\ntwo"})
    assert not form.is_valid()
    assert list(form.errors) == ["name"]
    assert NameForm(data={"name": "Ana", "note": "one\ntwo"}).is_valid()


@pytest.mark.parametrize(
    ("stored", "exported"),
    [
        ("Ana\x0bMaria", "Ana\ufffdMaria"),
        ("\x01", "\ufffd"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("+55 11 98765-4321", "+55 11 98765-4321"),
        ("-12.5", "-12.5"),
        ("line\nbreak", "line\nbreak"),
        (42, 42),
        (None, None),
    ],
)
def test_exports_escape_what_they_cannot_write(stored, exported):
    assert text_for_export(stored) == exported


def test_text_for_storage_replaces_only_what_no_column_holds():
    assert text_for_storage("Ana\x00\ud800\x0b é") == "Ana\ufffd\ufffd\x0b é"
    assert text_for_storage("plain") == "plain"


def test_json_object_decode_names_the_member_nested_too_deeply():
    deep = b'{"a":' * 5000 + b'"[not a bracket {"' + b"}" * 5000
    body = b'{"email": "ana@example.com", "first_name": ' + deep + b', "n": [1, {"x": "y"}]}'

    members, problems = json_object_decode(body)

    assert members == {"email": "ana@example.com", "n": [1, {"x": "y"}]}
    assert problems == {"first_name": "This value is nested too deeply (at most 5 levels)."}


def test_json_object_decode_keeps_invalid_utf8_in_a_string_for_the_text_rule_to_name():
    members, problems = json_object_decode(b'{"email": "\xff\xfe@example.com"}')

    assert problems == {}
    assert (
        text_problem(members["email"])
        == "This text is not valid UTF-8; send it again as UTF-8 text."
    )


@pytest.mark.parametrize(
    "body",
    [
        b"[1]",
        b'"x"',
        b"{",
        b'{"a": 1} trailing',
        b"\xff{}",
        b"1" * 5000,
        b"[" * 5000 + b"]" * 5000,
        b'{"a": ' + b"[" * 5000 + b"]" * 4999 + b"}",
    ],
)
def test_json_object_decode_refuses_a_body_that_is_not_a_json_object(body):
    with pytest.raises(ValidationFailed) as caught:
        json_object_decode(body)
    assert caught.value.code == "malformed"
