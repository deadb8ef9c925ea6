"""Exports never break on what is stored: the leads and the submissions listings' CSV and
XLSX, with rows written directly (as older versions, which accepted control characters,
stored them), every cell through leadmill.core.text.text_for_export."""

import csv
import io
import json
import logging
import traceback

import openpyxl
import pytest
from openpyxl.utils.exceptions import IllegalCharacterError

from leadmill.capture.models import Submission
from leadmill.capture.tests.factories import FormFactory
from leadmill.core.admin_viewsets import ExportRowFailed, SafeSpreadsheetExportMixin

from ..models import Contact

pytestmark = pytest.mark.django_db

LEADS, SUBMISSIONS = "/admin/leads/", "/admin/submissions/"
ROWS = 51
CONTROLS = ["\x01", "\x08", "\x0b", "\x0c", "\x1f"]  # what an XLSX cell cannot hold; PostgreSQL can


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    )
    return client


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def xlsx_rows(response) -> list[dict[str, object]]:
    workbook = openpyxl.load_workbook(
        io.BytesIO(b"".join(response.streaming_content)), read_only=True
    )
    heading, *rows = workbook.active.iter_rows(values_only=True)
    return [dict(zip(heading, row, strict=True)) for row in rows]


def leads_stored_by_an_older_version() -> None:
    Contact.objects.bulk_create(
        Contact(
            email=f"lead{i}@example.com",
            first_name=f"Ana{CONTROLS[i % len(CONTROLS)]}{i}",
            last_name="=1+1" if i == 0 else "Silva",
            company_name="Acme\x0bLtd",
        )
        for i in range(ROWS)
    )


def expected_first_names() -> set[str]:
    return {f"Ana\ufffd{i}" for i in range(ROWS)}


def test_the_leads_csv_export_writes_every_row_stored_with_control_characters(staff, caplog):
    leads_stored_by_an_older_version()

    with caplog.at_level(logging.WARNING):
        response = staff.get(LEADS, {"export": "csv"})
        rows = csv_rows(response)

    assert response.status_code == 200
    assert len(rows) == ROWS
    assert {row["First name"] for row in rows} == expected_first_names()
    assert {row["Company name"] for row in rows} == {"Acme\ufffdLtd"}
    assert sorted(row["Last name"] for row in rows)[0] == "'=1+1"  # never run as a formula
    assert caplog.records == []


def test_the_leads_xlsx_export_is_a_valid_workbook_with_every_row(staff, caplog):
    leads_stored_by_an_older_version()

    with caplog.at_level(logging.WARNING):
        response = staff.get(LEADS, {"export": "xlsx"})
        rows = xlsx_rows(response)

    assert response.status_code == 200
    assert len(rows) == ROWS
    assert {row["First name"] for row in rows} == expected_first_names()
    assert {row["Company name"] for row in rows} == {"Acme\ufffdLtd"}
    assert {row["Email"] for row in rows} == {f"lead{i}@example.com" for i in range(ROWS)}
    assert caplog.records == []


def submissions_stored_by_an_older_version() -> None:
    form = FormFactory(name="Ebook")
    Submission.objects.bulk_create(
        Submission(
            form=form,
            status=Submission.Status.REJECTED,
            data={"first_name": f"Ana{CONTROLS[i % len(CONTROLS)]}"},
            page_url=f"https://lp.example/{i}{CONTROLS[i % len(CONTROLS)]}",
            utm_source="news\x01letter",
            referrer="@SUM(1+1)",
        )
        for i in range(ROWS)
    )


@pytest.mark.parametrize("export", ["csv", "xlsx"])
def test_the_submissions_export_writes_every_row_stored_with_control_characters(staff, export):
    submissions_stored_by_an_older_version()

    response = staff.get(SUBMISSIONS, {"export": export})
    rows = csv_rows(response) if export == "csv" else xlsx_rows(response)

    assert response.status_code == 200
    assert len(rows) == ROWS
    assert {row["Page"] for row in rows} == {f"https://lp.example/{i}\ufffd" for i in range(ROWS)}
    assert {row["utm_source"] for row in rows} == {"news\ufffdletter"}
    assert {row["Referrer"] for row in rows} == {"'@SUM(1+1)"}
    assert {row["Submitted values"] for row in rows} == {
        json.dumps({"first_name": f"Ana{c}"})
        for c in CONTROLS  # escaped by JSON: nothing to replace
    }


class _CellRefusingWriter:
    """Wagtail's writer with a cell openpyxl refuses, as before the escape: the error's
    message holds the cell's value."""

    FORMAT_CSV, FORMAT_XLSX = "csv", "xlsx"

    def generate_xlsx_row(self, worksheet, row_dict, date_format=None):
        raise IllegalCharacterError(f"{row_dict['first_name']} cannot be used in worksheets.")
        yield  # a generator, as Wagtail's

    def write_csv_row(self, writer, row_dict):
        raise ValueError(f"cannot write {row_dict['first_name']}")


class _Export(SafeSpreadsheetExportMixin, _CellRefusingWriter):
    pass


@pytest.mark.parametrize("write", ["xlsx", "csv"])
def test_a_row_that_cannot_be_written_fails_without_its_values_in_the_error(write):
    export, row = _Export(), {"first_name": "Ana Secretname"}

    with pytest.raises(ExportRowFailed) as caught:
        if write == "xlsx":
            list(export.generate_xlsx_row(None, row))
        else:
            export.write_csv_row(None, row)

    logged = "".join(
        traceback.format_exception(caught.value)
    )  # what Django's error log would print
    assert "Secretname" not in logged
    assert str(caught.value).startswith(
        "row 1 of the export (after the heading) could not be written: "
    )
