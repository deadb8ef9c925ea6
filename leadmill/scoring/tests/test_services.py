"""Training the predictive model on contacts, and reading a contact's predictive score."""

import logging

import pytest

from leadmill.contacts.models import Contact, Outcome
from leadmill.core.errors import ValidationFailed

from .. import selectors
from ..models import ScoringModel
from ..selectors import contact_features, predictive_score, scoring_model_active
from ..training import predictive_model_train
from .generators import many_small_segments, segment_and_country_together, segment_decides

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_loaded_models():
    selectors._loaded.clear()
    yield
    selectors._loaded.clear()


def contacts_make(rows, won, *, prefix="past"):
    """Contacts with these profile fields (unknown keys go to custom fields) and outcomes."""
    profile = {"role", "company_size", "segment", "country", "first_source", "first_medium"}
    Contact.objects.bulk_create(
        Contact(
            email=f"{prefix}{i}@example.com",
            outcome=Outcome.WON if is_won else Outcome.LOST,
            custom={k: v for k, v in row.items() if k not in profile},
            **{k: v for k, v in row.items() if k in profile},
        )
        for i, (row, is_won) in enumerate(zip(rows, won, strict=True))
    )


def test_the_learned_model_is_activated_when_its_held_out_auc_beats_the_baselines():
    contacts_make(*segment_and_country_together(n=400))

    result = predictive_model_train()

    assert result.learned.is_active is True
    assert result.baseline.is_active is False
    assert result.learned.metrics["auc"] > result.baseline.metrics["auc"] + 0.15
    assert result.learned.metrics["compared_with"] == {
        "kind": "baseline",
        "auc": result.baseline.metrics["auc"],
    }
    assert (result.learned.rows, result.learned.positives) == (
        400,
        Contact.objects.filter(outcome="won").count(),
    )
    assert result.learned.features["categorical"] == ["role", "segment", "country"]
    assert (
        len(result.learned.metrics["lift"]) == 10
        and len(result.learned.metrics["calibration"]) == 10
    )
    assert scoring_model_active() == result.learned


def test_the_baseline_stays_in_use_when_the_learned_model_does_not_beat_it():
    contacts_make(*many_small_segments(n=400))

    result = predictive_model_train()

    assert result.baseline.is_active is True
    assert result.learned.is_active is False
    assert result.baseline.metrics["auc"] > result.learned.metrics["auc"] + 0.1
    assert scoring_model_active() == result.baseline


def test_training_again_replaces_the_active_model_so_exactly_one_is_active():
    contacts_make(*segment_decides(n=200))
    first = predictive_model_train(folds=3)

    second = predictive_model_train(folds=3)

    assert ScoringModel.objects.count() == 4
    assert list(ScoringModel.objects.filter(is_active=True)) == [second.active]
    first.active.refresh_from_db()
    assert first.active.is_active is False


def test_training_with_too_few_outcomes_says_how_many_are_needed_and_stores_nothing():
    rows, won = segment_decides(n=60)
    contacts_make(rows[:19] + rows[30:], [True] * 19 + [False] * 30)
    Contact.objects.create(email="open@example.com", segment="saas")  # no outcome: not counted

    with pytest.raises(ValidationFailed) as error:
        predictive_model_train()

    assert error.value.code == "too_few_outcomes"
    assert error.value.message == (
        "The predictive score needs at least 20 won and 20 lost leads to learn from; "
        "there are 19 won and 30 lost. Record more outcomes first."
    )
    assert not ScoringModel.objects.exists()


def test_training_on_the_fewest_outcomes_allowed_uses_fewer_folds_so_each_holds_ten_leads():
    rows, _ = segment_decides(n=45)
    contacts_make(rows, [True] * 20 + [False] * 25)

    result = predictive_model_train()

    assert result.active.metrics["folds"] == 4
    assert result.active.rows == 45


def test_contact_features_are_the_profile_fields_and_the_custom_fields():
    contact = Contact(
        role="CTO",
        segment="saas",
        country="BR",
        first_source="google",
        custom={"employees": 40, "trial": True, "tags": ["a"], "note": None},
    )

    assert contact_features(contact=contact) == {
        "role": "CTO",
        "company_size": "",
        "segment": "saas",
        "country": "BR",
        "first_source": "google",
        "first_medium": "",
        "custom.employees": "40",
        "custom.note": "",
        "custom.trial": "True",
    }


def test_predictive_score_gives_the_active_models_probability_and_top_reasons():
    contacts_make(*segment_decides(n=400))
    result = predictive_model_train()
    good = Contact.objects.create(
        email="new-saas@example.com", segment="saas", country="BR", role="cto"
    )
    poor = Contact.objects.create(
        email="new-edu@example.com", segment="education", country="BR", role="cto"
    )

    good_score, poor_score = predictive_score(contact=good), predictive_score(contact=poor)

    assert (good_score.model_id, good_score.model_kind) == (result.active.pk, result.active.kind)
    assert good_score.probability > 0.4 > 0.15 > poor_score.probability
    assert good_score.reasons[0].field == "segment" and good_score.reasons[0].effect > 0
    assert poor_score.reasons[0].field == "segment" and poor_score.reasons[0].effect < 0


def test_there_is_no_predictive_score_before_a_model_is_trained():
    assert predictive_score(contact=Contact.objects.create(email="a@example.com")) is None


def test_a_stored_model_whose_bytes_were_not_written_by_our_trainer_is_never_loaded(
    caplog, monkeypatch
):
    contacts_make(*segment_decides(n=200))
    active = predictive_model_train(folds=3).active
    ScoringModel.objects.filter(pk=active.pk).update(fitted=b"\x80\x04 tampered pickle")
    monkeypatch.setattr(
        "joblib.load", lambda *a, **k: pytest.fail("untrusted bytes were unpickled")
    )

    with caplog.at_level(logging.WARNING, logger="leadmill.scoring.selectors"):
        score = predictive_score(
            contact=Contact.objects.create(email="a@example.com", segment="saas")
        )

    assert score is None
    assert f"scoring model {active.pk} not loaded: its signature does not match" in caplog.text
