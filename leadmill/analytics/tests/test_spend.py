"""Spend from a CSV: `leadmill import spend FILE.csv`, one reporting currency, all or none."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from ..models import Spend

pytestmark = pytest.mark.django_db


def csv_file(tmp_path, text):
    path = tmp_path / "spend.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_import_spend_records_each_row_and_a_second_import_replaces_it(tmp_path, capsys):
    path = csv_file(
        tmp_path,
        "date,channel,source,medium,campaign,amount,currency\n"
        "2026-11-02,paid_search,google,cpc,black-friday,120.50,usd\n"
        "2026-11-02,paid_social,facebook,paid,,1,234.00,USD\n".replace("1,234.00", '"1,234.00"'),
    )
    call_command("import", "spend", str(path))
    assert "2 spend rows imported." in capsys.readouterr().out
    google = Spend.objects.get(source="google")
    assert (google.day, google.amount, google.currency) == (
        dt.date(2026, 11, 2),
        Decimal("120.50"),
        "USD",
    )
    assert Spend.objects.get(source="facebook").amount == Decimal("1234.00")

    call_command(
        "import", "spend", str(csv_file(tmp_path, path.read_text().replace("120.50", "99")))
    )
    assert Spend.objects.count() == 2
    assert Spend.objects.get(source="google").amount == Decimal("99.00")


def test_a_row_in_another_currency_is_refused_and_nothing_is_imported(tmp_path):
    path = csv_file(
        tmp_path,
        "date,source,amount,currency\n2026-11-02,google,10,USD\n2026-11-03,google,10,EUR\n",
    )
    with pytest.raises(CommandError) as refused:
        call_command("import", "spend", str(path))
    assert str(refused.value) == (
        "Row 2 is in EUR, but spend is reported in USD: convert it to USD first "
        "(nothing was imported)."
    )
    assert not Spend.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("day,amount,currency\n", "The CSV has no column date"),
        ("date,amount,currency\n02/11/2026,1,USD\n", "Row 1: the date '02/11/2026' is not"),
        ("date,amount,currency\n2026-11-02,ten,USD\n", "Row 1: the amount 'ten' is not a number"),
        ("date,amount,currency\n2026-11-02,-5,USD\n", "Row 1 has a negative amount"),
    ],
)
def test_bad_rows_get_a_message_naming_the_row(tmp_path, text, message):
    with pytest.raises(CommandError, match=message):
        call_command("import", "spend", str(csv_file(tmp_path, text)))
    assert not Spend.objects.exists()
