from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ScoringModel(models.Model):
    """A predictive scorer trained on contacts with a known outcome, with its held-out figures.

    Each training stores two rows, the learned model and the baseline, and activates the one
    with the better held-out AUC; at most one row is active. ``fitted`` is the pickled
    scorer. Unpickling runs code, so it is loaded only when ``fitted_digest`` (an HMAC of the
    bytes under SECRET_KEY, written by our own trainer) matches and the library versions are
    the ones it was trained with: a row written by anything else is never loaded.
    """

    class Kind(models.TextChoices):
        LEARNED = "learned", _("Learned (calibrated gradient boosting)")
        BASELINE = "baseline", _("Baseline (naive Bayes frequency tables)")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    trained_at = models.DateTimeField(_("trained"), default=timezone.now, db_index=True)
    is_active = models.BooleanField(_("active"), default=False)
    metrics = models.JSONField(
        _("held-out metrics"),
        default=dict,
        help_text=_("AUC, ECE, lift by decile and the calibration table, from cross-validation."),
    )
    features = models.JSONField(_("features"), default=dict)
    rows = models.PositiveIntegerField(_("training rows"), default=0)
    positives = models.PositiveIntegerField(_("won rows"), default=0)
    fitted = models.BinaryField(_("fitted scorer"), editable=False)
    fitted_digest = models.CharField(max_length=64, editable=False)
    library_versions = models.JSONField(default=dict, editable=False)

    class Meta:
        verbose_name = _("scoring model")
        ordering = ["-trained_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="scoring_one_active_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.trained_at:%Y-%m-%d %H:%M}"
