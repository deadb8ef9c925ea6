"""``leadmill scoring evaluate`` and ``leadmill scoring import-outcomes``."""

import csv
import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from leadmill.contacts.models import Contact, Outcome

from .generators import csv_write, segment_decides

pytestmark = pytest.mark.django_db

GARBAGE = ["#REF!", "1e999", "", "NaN", "n/a ??", "≠ 3,5 €", "'; DROP TABLE", "0x1F", "-"]


def scoring(*args: str) -> list[str]:
    out = StringIO()
    call_command("scoring", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def leads_csv(tmp_path):
    """400 past leads whose segment decides the outcome, and a column that leaks the outcome
    (``after_call``: the result code written after the call) mixed with garbage."""
    rows, won = segment_decides(n=400)
    for i, (row, is_won) in enumerate(zip(rows, won, strict=True)):
        row["after_call"] = ("1" if is_won else "0") if i % 3 else GARBAGE[i % len(GARBAGE)]
        row["subscribed"] = "yes" if is_won else "no"
    return csv_write(tmp_path / "leads.csv", rows, sep=";")


def evaluate(path, *extra: str) -> list[str]:
    return scoring(
        "evaluate",
        "--csv",
        str(path),
        "--target",
        "subscribed",
        "--positive",
        "yes",
        "--sep",
        ";",
        *extra,
    )


def test_evaluate_prints_both_models_and_ends_with_one_line_of_json(leads_csv):
    lines = evaluate(leads_csv, "--exclude", "after_call")

    summary = json.loads(lines[-1])
    assert {
        "auc",
        "auc_std",
        "baseline_auc",
        "ece",
        "baseline_ece",
        "lift_top_decile",
        "rows",
        "positives",
        "split",
        "folds",
        "excluded",
        "seconds",
    } <= set(summary)
    assert (summary["rows"], summary["split"], summary["folds"]) == (400, "cv", 5)
    assert summary["positives"] == sum(
        1 for line in leads_csv.read_text().splitlines() if line.endswith(";yes")
    )
    assert summary["excluded"] == ["after_call"]
    assert summary["features"] == 4
    assert 0.7 < summary["auc"] < 0.95
    assert not any(line.lstrip().startswith("{") for line in lines[:-1])
    text = "\n".join(lines)
    assert (
        "AUC (mean ± std of folds)" in text and "Lift by decile" in text and "Calibration" in text
    )


def test_an_excluded_column_of_garbage_and_leaks_is_never_read(leads_csv, tmp_path):
    # Given the same leads in a file without the leaking column at all
    with leads_csv.open(newline="", encoding="utf-8") as handle:
        rows = [
            {k: v for k, v in row.items() if k != "after_call"}
            for row in csv.DictReader(handle, delimiter=";")
        ]
    without = csv_write(tmp_path / "without.csv", rows, sep=";")

    # When both are evaluated, one with the column excluded
    excluded = evaluate(leads_csv, "--exclude", "after_call")
    absent = evaluate(without)

    # Then the figures are the same: the column's leak (AUC 1.0 if read) never reached a model
    ignore = {"seconds", "excluded"}
    first, second = json.loads(excluded[-1]), json.loads(absent[-1])
    assert {k: v for k, v in first.items() if k not in ignore} == {
        k: v for k, v in second.items() if k not in ignore
    }
    assert not any(
        "after_call" in line for line in excluded if line.startswith(("Features", "Not a feature"))
    )
    assert "Excluded, never read: after_call." in excluded


def test_evaluate_split_by_time_tests_on_the_last_fifth_of_rows(leads_csv):
    summary = json.loads(evaluate(leads_csv, "--exclude", "after_call", "--split", "time")[-1])

    assert (summary["split"], summary["folds"], summary["auc_std"]) == ("time", 1, 0.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--csv", "{dir}/nope.csv", "--target", "subscribed", "--positive", "yes"],
            "There is no file at",
        ),
        (["--target", "outcome", "--positive", "yes"], "There is no column 'outcome' to predict"),
        (
            ["--target", "subscribed", "--positive", "Yes"],
            "No row has subscribed = 'Yes'; the values found are 'no', 'yes'",
        ),
        (
            ["--target", "subscribed", "--positive", "yes", "--exclude", "subscribed"],
            "The target column 'subscribed' cannot also be excluded.",
        ),
        (
            ["--target", "subscribed", "--positive", "yes", "--exclude", "duration"],
            "Cannot exclude 'duration'",
        ),
        (
            ["--target", "subscribed", "--positive", "yes", "--folds", "50"],
            "400 rows make folds of fewer than 10 rows, too few to measure lift by decile: "
            "use at most 40 folds (--folds).",
        ),
    ],
)
def test_evaluate_explains_what_to_fix(leads_csv, tmp_path, args, message):
    args = [a.format(dir=tmp_path) for a in args]
    if "--csv" not in args:
        args = ["--csv", str(leads_csv), *args]

    with pytest.raises(CommandError) as error:
        scoring("evaluate", "--sep", ";", *args)

    assert message in str(error.value)


def test_evaluate_refuses_fewer_than_20_won_leads(tmp_path):
    rows = [
        {"segment": "saas" if i < 19 else "retail", "won": "yes" if i < 19 else "no"}
        for i in range(200)
    ]
    path = csv_write(tmp_path / "few.csv", rows)

    with pytest.raises(CommandError) as error:
        scoring("evaluate", "--csv", str(path), "--target", "won", "--positive", "yes")

    assert str(error.value) == (
        "Too few outcomes to learn from: 19 rows are 'yes' and 181 are not; at least 20 of each are needed."
    )


# --- import-outcomes ---------------------------------------------------------------------------


@pytest.fixture
def outcomes_csv(tmp_path):
    rows = [
        (
            "ana@example.com",
            "CTO",
            "saas",
            "br",
            "pro",
            "instagram",
            "Won",
            "1500.50",
            "2024-05-31",
        ),
        (
            "bo@example.com",
            "",
            "retail",
            "US",
            "",
            "google",
            "Lost",
            "",
            "2024-06-02T10:00:00+00:00",
        ),
        ("not-an-email", "CMO", "saas", "PT", "free", "", "Won", "", ""),
        ("cy@example.com", "CMO", "saas", "PT", "free", "", "", "", ""),
        ("di@example.com", "CMO", "saas", "PT", "free", "", "Won", "lots", ""),
        ("ed@example.com", "CMO", "saas", "PT", "free", "", "Lost", "", "31/05/2024"),
        ("fa@example.com", "Dev", "health", "BR", "free", "", "Open", "", ""),
    ]
    header = [
        "email",
        "role",
        "segment",
        "country",
        "Plan Name",
        "source",
        "result",
        "amount",
        "closed_on",
    ]
    return csv_write(tmp_path / "crm.csv", [dict(zip(header, row, strict=True)) for row in rows])


def import_outcomes(path, *extra: str) -> list[str]:
    return scoring(
        "import-outcomes",
        "--csv",
        str(path),
        "--email-column",
        "email",
        "--outcome-column",
        "result",
        "--won",
        "Won",
        "--value-column",
        "amount",
        "--date-column",
        "closed_on",
        "--batch-size",
        "2",
        *extra,
    )


def test_import_outcomes_creates_contacts_with_profile_touch_custom_fields_and_outcome(
    outcomes_csv,
):
    lines = import_outcomes(outcomes_csv, "--lost", "Lost")

    ana = Contact.objects.get(email="ana@example.com")
    assert (ana.role, ana.segment, ana.country, ana.first_source) == (
        "CTO",
        "saas",
        "BR",
        "instagram",
    )
    assert ana.custom == {"plan_name": "pro"}
    assert (ana.outcome, ana.outcome_value, ana.outcome_at) == (
        Outcome.WON,
        Decimal("1500.50"),
        dt.datetime(2024, 5, 31, tzinfo=dt.UTC),
    )
    bo = Contact.objects.get(email="bo@example.com")
    assert (bo.outcome, bo.outcome_value, bo.outcome_at) == (
        Outcome.LOST,
        None,
        dt.datetime(2024, 6, 2, 10, tzinfo=dt.UTC),
    )
    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        "ana@example.com",
        "bo@example.com",
    ]
    assert lines[0] == "Read 7 rows of crm.csv: 2 new leads, 0 updated (1 won, 1 lost); 5 skipped."
    assert lines[1].startswith("  line 4 skipped: ")
    assert lines[2:] == [
        "  line 5 skipped: the outcome '' is neither won nor lost",
        "  line 6 skipped: the value 'lots' is not a number like 1500.00",
        "  line 7 skipped: the date '31/05/2024' is not a date like 2024-05-31",
        "  line 8 skipped: the outcome 'Open' is neither won nor lost",
    ]


def test_import_outcomes_without_a_lost_value_counts_any_other_outcome_as_lost(outcomes_csv):
    import_outcomes(outcomes_csv)

    assert Contact.objects.get(email="fa@example.com").outcome == Outcome.LOST


def test_importing_the_same_file_twice_updates_the_contacts_instead_of_duplicating_them(
    outcomes_csv,
):
    import_outcomes(outcomes_csv, "--lost", "Lost")

    lines = import_outcomes(outcomes_csv, "--lost", "Lost")

    assert lines[0] == "Read 7 rows of crm.csv: 0 new leads, 2 updated (1 won, 1 lost); 5 skipped."
    assert Contact.objects.count() == 2


def test_import_outcomes_names_a_column_the_file_does_not_have(outcomes_csv):
    with pytest.raises(CommandError) as error:
        scoring(
            "import-outcomes",
            "--csv",
            str(outcomes_csv),
            "--email-column",
            "e-mail",
            "--outcome-column",
            "result",
            "--won",
            "Won",
        )

    assert str(error.value).startswith("crm.csv has no column 'e-mail' (its columns: email, role,")


def test_import_outcomes_never_reads_an_excluded_column(outcomes_csv):
    import_outcomes(outcomes_csv, "--exclude", "Plan Name")

    assert Contact.objects.get(email="ana@example.com").custom == {}
