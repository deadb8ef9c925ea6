"""Storing the predictive probability of every lead in batches (a recompute, a new model)."""

import pytest

from leadmill.contacts.models import Contact

from .. import selectors
from ..models import ContactScore
from ..predictions import predictive_scores_fill
from ..recompute import scores_recompute_all
from ..selectors import predictive_score
from ..training import predictive_model_train
from .generators import segment_decides
from .test_services import contacts_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_loaded_models():
    selectors._loaded.clear()
    yield
    selectors._loaded.clear()


def test_the_recompute_stores_every_leads_probability_from_the_active_model():
    contacts_make(*segment_decides(n=200))
    predictive_model_train(folds=3)
    newcomer = Contact.objects.create(email="new@example.com", segment="saas", country="BR")

    scores_recompute_all()

    stored = dict(ContactScore.objects.values_list("contact_id", "predictive_probability"))
    assert len(stored) == 201
    for contact in Contact.objects.all():
        assert stored[contact.pk] == round(predictive_score(contact=contact).probability, 6)
    assert stored[newcomer.pk] > 0.4


def test_filling_walks_the_leads_in_batches_and_writes_only_what_changed():
    contacts_make(*segment_decides(n=200))
    scores_recompute_all()  # no model yet: no probability
    assert not ContactScore.objects.filter(predictive_probability__isnull=False).exists()
    predictive_model_train(folds=3)

    first = predictive_scores_fill(batch_size=7)
    second = predictive_scores_fill(batch_size=7)

    assert (first, second) == (200, 0)
    assert not ContactScore.objects.filter(predictive_probability__isnull=True).exists()


def test_without_an_active_model_nothing_is_filled():
    contacts_make(*segment_decides(n=30))
    scores_recompute_all()

    assert predictive_scores_fill() == 0
    assert not ContactScore.objects.filter(predictive_probability__isnull=False).exists()
