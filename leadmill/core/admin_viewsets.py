"""Building blocks of every app's back-office viewsets: a permission policy limited to the
actions a screen offers, the one way a listing is exported to a spreadsheet, and the header
of a screen of our own, and the yes/no column of a listing.

(Until 2026-12 they lived in ``contacts/views.py``; every app's screens use them.)
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.text import capfirst
from wagtail.admin.ui.tables import BooleanColumn
from wagtail.permissions import ModelPermissionPolicy

from .text import text_for_export


class YesNoColumn(BooleanColumn):
    """Wagtail's tick / cross column, whose icons are titled "Yes" / "No" in the reader's
    language (Wagtail's own are titled ``True`` / ``False``)."""

    cell_template_name = "core/admin/boolean_cell.html"


def boolean_column(model, field_name: str) -> YesNoColumn:
    """A listing column of a yes/no field, labelled and sorted by the field: a bare name in
    ``list_display`` shows the raw ``True`` / ``False``."""
    field = model._meta.get_field(field_name)
    return YesNoColumn(field_name, label=capfirst(field.verbose_name), sort_key=field_name)


class LimitedPermissionPolicy(ModelPermissionPolicy):
    """Model permissions, minus the actions a screen does not offer.

    ``LimitedPermissionPolicy(Submission, actions={"view"})`` makes a read-only screen: no
    add, edit or delete buttons, and those URLs are refused, whatever the user's group has.
    """

    def __init__(self, model, *, actions: set[str]):
        super().__init__(model)
        self.actions = frozenset(actions)

    def user_has_permission(self, user, action):
        return action in self.actions and super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def users_with_any_permission(self, actions):
        return super().users_with_any_permission([a for a in actions if a in self.actions])


class TitledAdminViewMixin:
    """For a back-office screen of our own (not a viewset's): its header names the page,
    under the screens it belongs to. Wagtail's default breadcrumbs hold only "Home", which
    the header then shows as the page's title.

    ``parent_breadcrumbs()`` returns the ``{"url", "label"}`` items between Home and the page.
    """

    def parent_breadcrumbs(self) -> list[dict]:
        return []

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            *self.parent_breadcrumbs(),
            {"url": "", "label": self.get_page_title(), "sublabel": self.get_page_subtitle()},
        ]


def snippet_breadcrumbs(instance) -> list[dict]:
    """The parents of a screen about one snippet: its listing, then its edit screen (for
    :meth:`TitledAdminViewMixin.parent_breadcrumbs`)."""
    model = type(instance)
    viewset = model.snippet_viewset
    return [
        {
            "url": reverse(viewset.get_url_name("list")),
            "label": capfirst(model._meta.verbose_name_plural),
        },
        {"url": reverse(viewset.get_url_name("edit"), args=[instance.pk]), "label": str(instance)},
    ]


class LabelledInspectViewMixin:
    """For an inspect view: names the fields ``field_labels`` lists (columns the send queue
    or the intake write carry no verbose name, and adding one would only move a migration),
    and shows a dash for an empty value instead of "None"."""

    field_labels: dict = {}

    def get_field_label(self, field_name, field):
        label = self.field_labels.get(field_name)
        return capfirst(label) if label else super().get_field_label(field_name, field)

    def get_field_display_value(self, field_name, field):
        value = super().get_field_display_value(field_name, field)
        return "—" if value is None or value == "" else value


class ExportRowFailed(Exception):
    """A row of an export could not be written. Says which row and what kind of error,
    never the cell's value: cells hold personal data, and this reaches the log."""


class SafeSpreadsheetExportMixin:
    """The one way Leadmill exports a listing (CSV and XLSX): every cell through
    :func:`leadmill.core.text.text_for_export`, whatever the column.

    Exports never break on what is stored: rows written by older versions may hold control
    characters an XLSX cell cannot take (openpyxl refuses them) or lone surrogates a CSV
    cannot encode; they are written as U+FFFD. A value a spreadsheet would run as a formula
    (``=HYPERLINK(…)``, OWASP "CSV injection") gets a leading apostrophe; phone numbers and
    signed numbers ("+5511…", "-3") are left as they are. Should a row still fail, the
    error names the row, not its values (no personal data in logs).
    """

    def preprocess_field_value(self, field, value, export_format):
        return text_for_export(super().preprocess_field_value(field, value, export_format))

    def write_csv_row(self, writer, row_dict):
        row = self._export_row_next()
        try:
            return super().write_csv_row(writer, row_dict)
        except Exception as exc:
            raise ExportRowFailed(_row_failed_message(row, exc)) from None

    def generate_xlsx_row(self, worksheet, row_dict, date_format=None):
        row = self._export_row_next()
        try:
            yield from super().generate_xlsx_row(worksheet, row_dict, date_format=date_format)
        except Exception as exc:
            raise ExportRowFailed(_row_failed_message(row, exc)) from None

    def _export_row_next(self) -> int:
        self._export_rows = getattr(self, "_export_rows", 0) + 1
        return self._export_rows


def _row_failed_message(row: int, exc: Exception) -> str:
    return f"row {row} of the export (after the heading) could not be written: {type(exc).__name__}"
