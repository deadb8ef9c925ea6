"""``leadmill scoring …``: backtest the predictive score on a CSV file, import past outcomes,
train the model on contacts. See docs/scoring.md."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leadmill.core.errors import ValidationFailed

from ...backtest import CV, SPLITS, Backtest, backtest, outcome_labels
from ...outcomes import IMPORT_BATCH_SIZE, outcomes_import
from ...tabular import CsvFile, TableError, table_read_csv
from ...training import predictive_model_train

SKIPPED_SHOWN = 20


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


class Command(BaseCommand):
    help = "The predictive score: evaluate on a CSV file, import past outcomes, train on contacts."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="{evaluate,import-outcomes,train}"
        )

        evaluate = actions.add_parser(
            "evaluate",
            help="Backtest the learned model and the baseline on a CSV file of past leads.",
            description="Cross-validated (or split by time) AUC, lift by decile and calibration of "
            "the learned model and the baseline. Ends with one line of JSON.",
        )
        evaluate.add_argument("--csv", required=True, help="the file of past leads, one row each")
        evaluate.add_argument("--target", required=True, help="the outcome column")
        evaluate.add_argument("--positive", required=True, help="the outcome value that means won")
        evaluate.add_argument(
            "--exclude",
            action="append",
            default=[],
            metavar="COLUMN",
            help="a column never to read (repeat for several), e.g. one known only after the outcome",
        )
        evaluate.add_argument("--sep", default=",", help="the field separator (default ',')")
        evaluate.add_argument(
            "--split",
            choices=SPLITS,
            default=CV,
            help="cv: stratified k-fold; time: first 80 %% of rows to train",
        )
        evaluate.add_argument(
            "--folds", type=int, default=5, help="folds of the cross-validation (default 5)"
        )
        evaluate.add_argument(
            "--seed", type=int, default=42, help="seed of the folds and models (default 42)"
        )
        evaluate.add_argument(
            "--threads", type=int, default=1, help="CPU threads for the trees (default 1)"
        )

        imports = actions.add_parser(
            "import-outcomes",
            help="Load past leads with their outcome (won / lost) into contacts.",
            description="Rows are matched to contacts by email; other columns fill profile fields "
            "(role, segment, country …), the first touch (source, medium, campaign) or custom fields.",
        )
        imports.add_argument("--csv", required=True)
        imports.add_argument("--email-column", required=True)
        imports.add_argument("--outcome-column", required=True)
        imports.add_argument("--won", required=True, help="the outcome value that means won")
        imports.add_argument("--lost", help="the value that means lost (default: any other value)")
        imports.add_argument("--value-column", help="the deal value (a number)")
        imports.add_argument("--date-column", help="the outcome date (ISO, e.g. 2024-05-31)")
        imports.add_argument(
            "--exclude",
            action="append",
            default=[],
            metavar="COLUMN",
            help="a column never to read",
        )
        imports.add_argument("--sep", default=",")
        imports.add_argument(
            "--batch-size", type=int, default=IMPORT_BATCH_SIZE, help="rows per transaction"
        )

        train = actions.add_parser(
            "train",
            help="Train the predictive model on contacts with an outcome and activate the better one.",
        )
        train.add_argument("--folds", type=int, default=5)
        train.add_argument("--seed", type=int, default=42)
        train.add_argument("--threads", type=int, default=1)

    def handle(self, *args, action, **options):
        handler = {
            "evaluate": self.evaluate,
            "import-outcomes": self.import_outcomes,
            "train": self.train,
        }[action]
        return handler(**options)

    # --- evaluate ---------------------------------------------------------------------------

    def evaluate(self, *, csv, target, positive, exclude, sep, split, folds, seed, threads, **_):
        started = time.perf_counter()
        if target in exclude:
            raise CommandError(f"The target column {target!r} cannot also be excluded.")
        try:
            table = table_read_csv(csv, sep=sep, exclude=exclude)
            table, y, dropped = outcome_labels(table, target=target, positive=positive)
            result = backtest(table, y, split=split, folds=folds, seed=seed, threads=threads)
        except TableError as exc:
            raise CommandError(str(exc)) from exc
        seconds = time.perf_counter() - started
        self._print_backtest(
            result, csv=csv, target=target, positive=positive, exclude=exclude, dropped=dropped
        )
        self.stdout.write(f"Seconds: {seconds:.1f}")
        summary = {
            "auc": round(result.learned.auc, 4),
            "auc_std": round(result.learned.auc_std, 4),
            "baseline_auc": round(result.baseline.auc, 4),
            "baseline_auc_std": round(result.baseline.auc_std, 4),
            "ece": round(result.learned.ece, 4),
            "baseline_ece": round(result.baseline.ece, 4),
            "lift_top_decile": round(result.learned.lift[0], 3),
            "baseline_lift_top_decile": round(result.baseline.lift[0], 3),
            "rows": result.rows,
            "positives": result.positives,
            "dropped_rows": dropped,
            "split": result.split,
            "folds": result.folds,
            "seed": seed,
            "features": len(result.kinds.features),
            "excluded": list(exclude),
            "seconds": round(seconds, 1),
        }
        self.stdout.write(json.dumps(summary))

    def _print_backtest(self, result: Backtest, *, csv, target, positive, exclude, dropped) -> None:
        write = self.stdout.write
        how = (
            f"{result.folds}-fold stratified cross-validation, seed {result.seed}"
            if result.split == CV
            else "split by time: first 80 % of rows to train, last 20 % to test"
        )
        write(
            f"Backtest of {Path(csv).name}: {result.rows} rows, {result.positives} with {target} = {positive!r} "
            f"({result.positives / result.rows:.2%}); {how}."
        )
        if dropped:
            write(f"{dropped} rows without a known {target} were left out.")
        write(f"Excluded, never read: {', '.join(exclude) or 'none'}.")
        kinds = result.kinds
        write(
            f"Features ({len(kinds.features)}): numeric {', '.join(kinds.numeric) or '-'}; "
            f"categorical {', '.join(kinds.categorical) or '-'}."
        )
        for name, reason in kinds.ignored.items():
            write(f"Not a feature: {name} ({reason}).")
        models = (result.learned, result.baseline)
        write("")
        write(f"{'':28}{'learned':>18}{'baseline':>18}")
        if result.folds > 1:
            for label, mean, std in (("AUC", "auc", "auc_std"), ("ECE", "ece", "ece_std")):
                cells = "".join(f"{getattr(m, mean):>11.4f} ±{getattr(m, std):.3f}" for m in models)
                write(f"{label + ' (mean ± std of folds)':28}{cells}")
        else:
            for label, mean in (("AUC", "auc"), ("ECE", "ece")):
                write(f"{label:28}" + "".join(f"{getattr(m, mean):>18.4f}" for m in models))
        write("")
        write("Lift by decile (won rate in each tenth of scores / base rate; 1 = highest scores):")
        write(f"{'decile':>8}{'learned':>10}{'baseline':>10}")
        for decile, (a, b) in enumerate(
            zip(result.learned.lift, result.baseline.lift, strict=True), start=1
        ):
            write(f"{decile:>8}{a:>10.2f}{b:>10.2f}")
        write("")
        write("Calibration (every row's held-out prediction; 10 equal-width bins):")
        write(
            f"{'predicted':>12} | {'rows':>6}{'mean p':>8}{'won rate':>9} (learned) | "
            f"{'rows':>6}{'mean p':>8}{'won rate':>9} (baseline)"
        )
        for a, b in zip(result.learned.calibration, result.baseline.calibration, strict=True):
            write(f"{a.low:>5.1f} – {a.high:<4.1f} | {self._bin(a)}           | {self._bin(b)}")

    @staticmethod
    def _bin(row) -> str:
        return f"{row.count:>6}{_rate(row.mean_predicted):>8}{_rate(row.observed_rate):>9}"

    # --- import-outcomes --------------------------------------------------------------------

    def import_outcomes(
        self,
        *,
        csv,
        email_column,
        outcome_column,
        won,
        lost,
        value_column,
        date_column,
        exclude,
        sep,
        batch_size,
        verbosity,
        **_,
    ):
        # One log line per updated contact drowns the summary; -v 2 shows them.
        contact_log = logging.getLogger("leadmill.contacts.services")
        level = contact_log.level
        if verbosity < 2:
            contact_log.setLevel(logging.WARNING)
        try:
            source = CsvFile(csv, sep=sep, exclude=exclude)
            report = outcomes_import(
                source=source,
                email_column=email_column,
                outcome_column=outcome_column,
                won=won,
                lost=lost,
                value_column=value_column,
                date_column=date_column,
                batch_size=batch_size,
            )
        except TableError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationFailed as exc:
            raise CommandError(exc.message) from exc
        finally:
            contact_log.setLevel(level)
        self.stdout.write(
            f"Read {report.rows} rows of {source.path.name}: {report.created} new leads, "
            f"{report.updated} updated ({report.won} won, {report.lost} lost); {len(report.skipped)} skipped."
        )
        for line, reason in report.skipped[:SKIPPED_SHOWN]:
            self.stdout.write(f"  line {line} skipped: {reason}")
        if len(report.skipped) > SKIPPED_SHOWN:
            self.stdout.write(f"  … and {len(report.skipped) - SKIPPED_SHOWN} more skipped lines.")

    # --- train ------------------------------------------------------------------------------

    def train(self, *, folds, seed, threads, **_):
        try:
            result = predictive_model_train(folds=folds, seed=seed, threads=threads)
        except ValidationFailed as exc:
            raise CommandError(exc.message) from exc
        for model in (result.learned, result.baseline):
            self.stdout.write(
                f"{model.get_kind_display()}: held-out AUC {model.metrics['auc']:.4f} "
                f"± {model.metrics['auc_std']:.3f}, ECE {model.metrics['ece']:.4f}"
                + (" — active" if model.is_active else "")
            )
        self.stdout.write(
            f"Trained on {result.active.rows} contacts ({result.active.positives} won)."
        )
