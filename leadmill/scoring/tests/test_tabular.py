"""Reading past leads from CSV and deciding each column's kind."""

import math

import pytest

from ..tabular import (
    MISSING,
    CsvFile,
    TableError,
    category_values,
    column_kinds,
    numeric_values,
    table_from_rows,
    table_read_csv,
)

# The shared autouse fixtures clear the cache table, so every test takes the database.
pytestmark = pytest.mark.django_db


def write(tmp_path, text, name="leads.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_excluded_column_is_dropped_while_parsing_and_never_reaches_the_table(tmp_path):
    path = write(tmp_path, 'age;"duration";y\n30;#REF!;no\n41;"1e999 ;; oops";yes\n')

    table = table_read_csv(path, sep=";", exclude=["duration"])

    assert table.columns == {"age": ["30", "41"], "y": ["no", "yes"]}


def test_csv_rows_give_line_numbers_and_stripped_values_of_kept_columns(tmp_path):
    path = write(
        tmp_path, "email,plan,secret\n ana@example.com , pro ,x\n\nbo@example.com,free,y\n"
    )

    source = CsvFile(path, exclude=["secret"])

    assert source.columns == ["email", "plan"]
    assert list(source.rows()) == [(2, ["ana@example.com", "pro"]), (4, ["bo@example.com", "free"])]


def test_a_byte_order_mark_does_not_become_part_of_the_first_column_name(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffage,y\n30,no\n".encode())

    assert table_read_csv(path).names == ["age", "y"]


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        (None, {}, "There is no file at"),
        ("", {}, "is empty: its first line must name the columns"),
        ("a,b\n1,2\n", {"exclude": ["c"]}, "Cannot exclude 'c': not a column of"),
        ("a,a\n1,2\n", {}, "names these columns more than once: a"),
        ("a;b\n1;2\n", {"exclude": ["b"]}, "Is the separator right (--sep)?"),
        ("a,b\n1,2\n1,2,3\n", {}, "Line 3 of"),
    ],
)
def test_unusable_files_raise_a_sentence_that_says_what_to_fix(tmp_path, text, kwargs, message):
    path = tmp_path / "missing.csv" if text is None else write(tmp_path, text)

    with pytest.raises(TableError) as error:
        table_read_csv(path, **kwargs)

    assert message in str(error.value)


def test_column_kinds_come_from_values_numbers_with_unknowns_stay_numeric():
    emails = [f"lead{i}@example.com" for i in range(60)]
    table = table_from_rows(
        [
            {
                "pdays": "999" if i % 2 else "unknown",
                "job": "admin." if i % 3 else "unknown",
                "email": emails[i],
                "country": "BR",
                "empty": "",
            }
            for i in range(60)
        ]
    )

    kinds = column_kinds(table)

    assert kinds.numeric == ("pdays",)
    assert kinds.categorical == ("job",)
    assert kinds.ignored == {
        "email": "looks like an identifier (60 distinct values)",
        "country": "one value in every row",
        "empty": "no known values",
    }


def test_every_way_of_saying_not_known_is_one_category_and_nan_as_a_number():
    assert category_values(["", "NA", "unknown", "?", "yes "]) == [
        MISSING,
        MISSING,
        MISSING,
        MISSING,
        "yes",
    ]
    numbers = numeric_values(["1.5", "", "null", "abc", "inf"])
    assert numbers[0] == 1.5
    assert all(math.isnan(x) for x in numbers[1:])
