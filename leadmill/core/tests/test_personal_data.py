"""The personal-data registry: declarations, their system check, and the merge's row moves."""

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.test.utils import isolate_apps

from leadmill.contacts.models import Contact, StageChange
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core import personal_data
from leadmill.core.checks import personal_data_check, personal_data_problems
from leadmill.core.personal_data import (
    Column,
    Erase,
    Export,
    Link,
    Merge,
    PersonalData,
    personal_data_registered,
    personal_data_unregistered,
    register_personal_data,
)
from leadmill.sales.models import Activity
from leadmill.scoring.models import ContactScore
from leadmill.tracking.tests.factories import VisitorFactory

pytestmark = pytest.mark.django_db


def ids(problems: list[checks.CheckMessage]) -> list[str]:
    return [problem.id for problem in problems]


# --- the check -------------------------------------------------------------------------------


def test_every_installed_model_that_points_at_the_contact_is_declared():
    # Given the apps as installed, when the system check runs, then it finds nothing
    assert personal_data_check() == []
    assert "leadmill.core.E102" not in ids(checks.run_checks())


def test_a_foreign_key_to_the_contact_that_no_declaration_covers_fails_the_check():
    # Given sales' activities left out of the registry
    with personal_data_unregistered(Activity):
        # When the system check runs (as `leadmill check`, `migrate` and every start do)
        problems = checks.run_checks()

    # Then it names the undeclared foreign key, as an error
    undeclared = [p for p in problems if p.id == "leadmill.core.E102"]
    assert [(p.obj, p.level) for p in undeclared] == [(Activity, checks.ERROR)]
    assert undeclared[0].msg.startswith("sales.Activity.contact points at the contact")


@isolate_apps("leadmill.core")
def test_a_new_table_with_a_foreign_key_to_the_contact_is_flagged_until_it_is_declared():
    # Given a new model that points at the contact
    class Reminder(models.Model):
        contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
        note = models.TextField()

        class Meta:
            app_label = "core"

        def __str__(self) -> str:
            return self.note

    # When the registry is checked, then the new foreign key is flagged
    assert ids(personal_data_problems(models_=[Reminder])) == ["leadmill.core.E102"]

    # And once declared it is not
    declared = PersonalData(
        model=Reminder,
        links=(Link.foreign_key("contact"),),
        columns=(Column("note", erase=Erase.DELETE_ROW),),
        merge=Merge.REPOINT,
    )
    with personal_data_registered(declared):
        assert personal_data_problems(models_=[Reminder]) == []


def test_repointing_a_link_under_a_unique_constraint_fails_the_check():
    # Given the one-score-row-per-contact table declared as a plain repoint
    plain = PersonalData(
        model=ContactScore, links=(Link.foreign_key("contact"),), merge=Merge.REPOINT
    )

    with personal_data_registered(plain):
        problems = personal_data_problems(models_=[ContactScore])

    assert ids(problems) == ["leadmill.core.E104"]
    assert "Merge.DROP_ON_CONFLICT" in problems[0].msg


@pytest.mark.parametrize(
    ("declaration", "problem"),
    [
        (
            PersonalData(model=StageChange, links=(Link.foreign_key("contact"),)),
            "leadmill.core.E105",  # rows point at the contact, but no merge is declared
        ),
        (
            PersonalData(
                model=StageChange,
                links=(Link.foreign_key("contact"),),
                columns=(Column("cuase"),),
                merge=Merge.REPOINT,
            ),
            "leadmill.core.E106",  # a column that does not exist
        ),
        (
            PersonalData(
                model=StageChange,
                links=(Link.foreign_key("contact"),),
                columns=(Column("cause", erase=Erase.KEEP),),
                merge=Merge.REPOINT,
            ),
            "leadmill.core.E107",  # kept on erasure without saying why
        ),
        (
            PersonalData(
                model=StageChange,
                links=(Link.foreign_key("contact"),),
                columns=(Column("cause", export=Export.OMIT),),
                merge=Merge.REPOINT,
            ),
            "leadmill.core.E107",  # left out of the export without saying why
        ),
        (
            PersonalData(
                model=StageChange,
                links=(Link.foreign_key("contact"), Link.foreign_key("actor")),
                merge=Merge.REPOINT,
            ),
            "leadmill.core.E103",  # a "link" to the contact that points at a user
        ),
    ],
)
def test_an_unsound_declaration_fails_the_check(declaration, problem):
    with personal_data_registered(declaration):
        assert ids(personal_data_problems(models_=[StageChange])) == [problem]


def test_without_a_declared_contact_model_the_check_says_so():
    with personal_data_unregistered(Contact):
        assert ids(personal_data_check()) == ["leadmill.core.E101"]


# --- registering -----------------------------------------------------------------------------


def test_registering_the_same_declaration_again_changes_nothing_and_a_different_one_is_refused():
    known = personal_data.declaration_for(StageChange)
    before = personal_data.declarations()

    register_personal_data(known)

    assert personal_data.declarations() == before
    with pytest.raises(ImproperlyConfigured, match="contacts.stagechange is declared twice"):
        register_personal_data(
            PersonalData(model=StageChange, links=known.links, merge=Merge.DROP_ON_CONFLICT)
        )
    assert personal_data.declaration_for(StageChange) is known


def test_the_contact_model_is_the_one_declared_as_the_subject():
    assert personal_data.subject_model() is Contact


# --- rows_move -------------------------------------------------------------------------------


def test_a_merge_function_is_called_with_both_ids_and_its_count_reported():
    # Given stage changes declared with a merge function of their own
    calls = []

    def stage_changes_merge(*, keep_id: int, gone_id: int) -> int:
        calls.append((keep_id, gone_id))
        return StageChange.objects.filter(contact_id=gone_id).update(
            contact_id=keep_id, cause="merged"
        )

    own_rule = PersonalData(
        model=StageChange, links=(Link.foreign_key("contact"),), merge=stage_changes_merge
    )
    keep, gone = ContactFactory(stage_history=False), ContactFactory()  # gone's first stage
    others = [d.model for d in personal_data.declarations() if d.model is not StageChange]

    # When the rows move
    with personal_data_registered(own_rule), personal_data_unregistered(*others):
        moved = personal_data.rows_move(keep_id=keep.pk, gone_id=gone.pk)

    # Then the function ran once and its count is reported under the model
    assert calls == [(keep.pk, gone.pk)]
    assert moved == {"contacts.stagechange": 1}
    assert list(StageChange.objects.values_list("contact_id", "cause")) == [(keep.pk, "merged")]


def test_merging_a_contact_without_rows_reports_nothing_moved():
    keep, gone = ContactFactory(), ContactFactory(stage_history=False)

    moved = personal_data.rows_move(keep_id=keep.pk, gone_id=gone.pk)

    assert moved == {}


# --- personal_data_erase ---------------------------------------------------------------------


def test_before_erase_is_called_once_with_the_contact_and_its_browsers_while_its_rows_are_there():
    # Given stage changes declared with a note taken before erasure, and a contact with a
    # browser (a visitor row naming it)
    seen = []

    def stage_changes_note(*, subject_id: int, visitor_ids: frozenset[str]) -> None:
        seen.append(
            (
                subject_id,
                visitor_ids,
                StageChange.objects.filter(contact_id=subject_id).count(),
            )
        )

    noted = PersonalData(
        model=StageChange,
        links=(Link.foreign_key("contact"),),
        columns=(Column("to_stage", erase=Erase.DELETE_ROW),),
        merge=Merge.REPOINT,
        before_erase=stage_changes_note,
    )
    contact = ContactFactory()  # with its first stage change
    browser = VisitorFactory(contact=contact)

    # When it is erased
    with personal_data_registered(noted):
        personal_data.personal_data_erase(subject=contact, hash_value=lambda value: "#")

    # Then the note saw its id, its browser and its rows, which are gone after
    assert seen == [(contact.pk, frozenset({browser.pk}), 1)]
    assert not StageChange.objects.filter(contact_id=contact.pk).exists()
