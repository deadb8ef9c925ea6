"""The personal-data registry: each app declares the rows and columns that hold a contact's data.

A declaration (:class:`PersonalData`) says, for one model:

* how its rows find their contact (``links``): a foreign key to the contact, a plain
  contact-id column, or an identifier the person is known by (email, phone, visitor id);
  the contact model itself is declared with :meth:`Link.subject`;
* which of its columns are personal data (``columns``), and for each how the later
  data-subject export gives it out and how erasure removes it;
* how its rows move when two contacts are merged (``merge``): repointed to the survivor,
  repointed with the loser's row deleted where the survivor already has its twin (a unique
  constraint such as one score row per contact), or by a function the app provides;
* optionally, what the app must note before an erasure changes anything (``before_erase``):
  rows derived from others (analytics' stored counts) note what the erasure will take away.

Each app registers its own models in its ``AppConfig.ready`` with
:func:`register_personal_data`; ``contacts.services.contact_merge`` asks :func:`rows_move`
instead of knowing other apps' tables; the export (:func:`personal_data_export`) and the
erasure (:func:`personal_data_erase`, called by privacy's ``contact_erase``) ask it too.
The system check in :mod:`.checks` fails when a model has a foreign key to the contact that no
declaration covers, so a new table cannot be forgotten. The format, for the developer who
adds a table: docs/privacy.md, "Declaring personal data"; the decision: ADR 0026.

This module knows no app: the contact model is whichever model an app declares as the subject.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, models, transaction


class LinkKind(enum.StrEnum):
    SUBJECT = "subject"  # the contact row itself
    FOREIGN_KEY = "foreign_key"  # a ForeignKey / OneToOneField to the contact
    CONTACT_ID = "contact_id"  # an integer column holding a contact's id, without a constraint
    EMAIL = "email"  # a column holding an email address
    PHONE = "phone"  # a column holding a phone number (E.164)
    VISITOR = "visitor"  # a column holding a tracking visitor id (the ``lm_vid`` cookie)


# The links a merge repoints; rows found by an identifier follow that identifier instead.
CONTACT_KEYED = frozenset({LinkKind.FOREIGN_KEY, LinkKind.CONTACT_ID})


@dataclasses.dataclass(frozen=True)
class Link:
    """How a model's rows find the contact they belong to: a kind and the field that holds it."""

    kind: LinkKind
    field: str

    @classmethod
    def subject(cls) -> Link:
        """The contact model itself (declared once, by the app that owns contacts)."""
        return cls(LinkKind.SUBJECT, "pk")

    @classmethod
    def foreign_key(cls, field: str = "contact") -> Link:
        return cls(LinkKind.FOREIGN_KEY, field)

    @classmethod
    def contact_id(cls, field: str) -> Link:
        return cls(LinkKind.CONTACT_ID, field)

    @classmethod
    def email(cls, field: str) -> Link:
        return cls(LinkKind.EMAIL, field)

    @classmethod
    def phone(cls, field: str) -> Link:
        return cls(LinkKind.PHONE, field)

    @classmethod
    def visitor(cls, field: str) -> Link:
        return cls(LinkKind.VISITOR, field)

    @property
    def moves_on_merge(self) -> bool:
        return self.kind in CONTACT_KEYED


class Merge(enum.StrEnum):
    """How the rows of a declared model move to the survivor of a merge."""

    # One UPDATE per link: every row of the merged contact points at the survivor.
    REPOINT = "repoint"
    # For links under a unique constraint (one score row per contact, one active enrolment
    # per sequence, one membership per segment): the rows move, and a row whose twin the
    # survivor already has is deleted; the survivor's row wins.
    DROP_ON_CONFLICT = "drop_on_conflict"


# A merge the app writes itself: called as ``function(keep_id=…, gone_id=…)`` inside the
# merge's transaction, it returns how many rows it changed.
MergeFunction = Callable[..., int]

# What an app notes before an erasure: called as ``function(subject_id=…, visitor_ids=…)``
# inside the erasure's transaction, once every row is found and before any changes, with the
# contact's id and the visitor ids it is known by. For rows computed from others (analytics'
# stored days): it notes what to compute again, as the rows it reads are still there.
BeforeErase = Callable[..., None]


class Export(enum.StrEnum):
    """How the data-subject export gives out a column."""

    VALUE = "value"  # as stored
    OMIT = "omit"  # not given out; the column's ``reason`` says why (e.g. a security secret)


class Erase(enum.StrEnum):
    """What erasure does to a column."""

    BLANK = "blank"  # set to its empty value ("", None, {}): the row stays, its counts too
    HASH = "hash"  # replaced by a keyed hash: it can still be matched, no longer read
    DELETE_ROW = "delete_row"  # the whole row is deleted
    KEEP = "keep"  # kept on purpose; the column's ``reason`` says why (e.g. a legal duty)


@dataclasses.dataclass(frozen=True)
class Column:
    """One personal-data column of a declared model (a model field's name)."""

    name: str
    _: dataclasses.KW_ONLY
    export: Export = Export.VALUE
    erase: Erase = Erase.BLANK
    reason: str = ""  # required with Export.OMIT and Erase.KEEP


def columns(
    *names: str, export: Export = Export.VALUE, erase: Erase = Erase.BLANK
) -> tuple[Column, ...]:
    """Several columns exported and erased alike: ``columns("url", "referrer", erase=Erase.DELETE_ROW)``."""
    return tuple(Column(name, export=export, erase=erase) for name in names)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PersonalData:
    """The declaration of one model's personal data (see the module's docstring)."""

    model: type[models.Model]
    links: tuple[Link, ...]
    columns: tuple[Column, ...] = ()
    # None when no link moves on merge (rows found by an identifier, or the contact itself,
    # which contact_merge merges field by field).
    merge: Merge | MergeFunction | None = None
    before_erase: BeforeErase | None = None

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    @property
    def merge_links(self) -> tuple[Link, ...]:
        return tuple(link for link in self.links if link.moves_on_merge)


_declarations: dict[type[models.Model], PersonalData] = {}


def register_personal_data(*declarations: PersonalData) -> None:
    """Add declarations to the registry; call it from the declaring app's ``AppConfig.ready``.

    Registering the same declaration again changes nothing. Raises ImproperlyConfigured when
    a model is declared twice differently: one model, one declaration.
    """
    for declaration in declarations:
        known = _declarations.get(declaration.model)
        if known is not None and known != declaration:
            raise ImproperlyConfigured(
                f"{declaration.label} is declared twice in the personal-data registry"
            )
        _declarations[declaration.model] = declaration


@contextmanager
def personal_data_registered(*declarations: PersonalData) -> Iterator[None]:
    """Register declarations for the duration of a block (tests), restoring what was there."""
    saved = dict(_declarations)
    for declaration in declarations:
        _declarations[declaration.model] = declaration
    try:
        yield
    finally:
        _declarations.clear()
        _declarations.update(saved)


@contextmanager
def personal_data_unregistered(*models_: type[models.Model]) -> Iterator[None]:
    """Leave models out of the registry for the duration of a block (tests)."""
    saved = dict(_declarations)
    for model in models_:
        _declarations.pop(model, None)
    try:
        yield
    finally:
        _declarations.clear()
        _declarations.update(saved)


def declarations() -> tuple[PersonalData, ...]:
    """Every declaration, in the order the apps registered them."""
    return tuple(_declarations.values())


def declaration_for(model: type[models.Model]) -> PersonalData | None:
    return _declarations.get(model)


def subject_model() -> type[models.Model] | None:
    """The contact model: the one declared with :meth:`Link.subject` (None before any is)."""
    for declaration in _declarations.values():
        if any(link.kind is LinkKind.SUBJECT for link in declaration.links):
            return declaration.model
    return None


# --- Export ---------------------------------------------------------------------------------


def personal_data_export(*, subject: models.Model) -> dict[str, list[dict[str, Any]]]:
    """Everything the registry knows about ``subject`` (a contact), for the person to read:
    per declared model (``"app.model"``), its rows with the columns declared for export
    (``Export.OMIT`` columns left out). Rows are found through every link: the contact
    itself, foreign keys and contact-id columns, the contact's email and phone, and the
    visitor ids its own rows name (events of its browsers before it was known). Models
    with no row are left out. Reads only; the caller decides who may ask."""
    identifiers = _subject_identifiers(subject)
    exported: dict[str, list[dict[str, Any]]] = {}
    for declaration in _declarations.values():
        condition = _subject_filter(declaration, subject.pk, identifiers)
        names = [c.name for c in declaration.columns if c.export is Export.VALUE]
        if condition is None or not names:
            continue
        model = declaration.model
        attnames = [model._meta.get_field(name).attname for name in names]
        rows = model._base_manager.filter(condition).order_by("pk").values_list(*attnames)
        found = [dict(zip(names, row, strict=True)) for row in rows]
        if found:
            exported[declaration.label] = found
    return exported


def _subject_identifiers(subject: models.Model) -> dict[LinkKind, set]:
    """The identifiers the subject is known by: its email and phone, and the visitor ids its
    own rows name (events of its browsers before it was known)."""
    subject_declaration = declaration_for(type(subject))
    identifiers: dict[LinkKind, set] = {LinkKind.EMAIL: set(), LinkKind.PHONE: set()}
    for link in subject_declaration.links if subject_declaration else ():
        if link.kind in identifiers and getattr(subject, link.field, None):
            identifiers[link.kind].add(getattr(subject, link.field))
    visitors: set = set()
    for declaration in _declarations.values():  # the visitor ids the contact's rows name
        visitor_links = [link for link in declaration.links if link.kind is LinkKind.VISITOR]
        own = _subject_filter(declaration, subject.pk, identifiers)
        for link in visitor_links if own is not None else ():
            field = declaration.model._meta.get_field(link.field)
            visitors.update(
                value
                for value in declaration.model._base_manager.filter(own).values_list(
                    field.attname, flat=True
                )
                if value
            )
    identifiers[LinkKind.VISITOR] = visitors
    return identifiers


def _subject_filter(
    declaration: PersonalData, subject_id: int, identifiers: dict[LinkKind, set]
) -> models.Q | None:
    """The rows of ``declaration`` that belong to the subject, through any of its links
    (None: no link can find one)."""
    condition = models.Q()
    for link in declaration.links:
        if link.kind is LinkKind.SUBJECT:
            condition |= models.Q(pk=subject_id)
        elif link.kind in CONTACT_KEYED:
            field = declaration.model._meta.get_field(link.field)
            condition |= models.Q(**{field.attname: subject_id})
        elif identifiers.get(link.kind) and not any(
            other.kind is LinkKind.SUBJECT for other in declaration.links
        ):
            field = declaration.model._meta.get_field(link.field)
            condition |= models.Q(**{f"{field.attname}__in": sorted(identifiers[link.kind])})
    return condition if condition else None


# --- Erasure -------------------------------------------------------------------------------


def personal_data_erase(
    *, subject: models.Model, hash_value: Callable[[str], str]
) -> dict[str, int]:
    """Erase ``subject`` (a contact) as every declaration says, in the caller's transaction.

    Rows are found as the export finds them (the contact, its foreign keys and contact-id
    columns, its email, phone and visitor ids), all before anything changes. Then:

    * each declaration's ``before_erase`` is called, while every row is still there;
    * a model with an ``Erase.DELETE_ROW`` column loses the subject's rows (and what
      cascades from them);
    * otherwise its ``Erase.BLANK`` columns are set to their empty value (None, ``{}``,
      ``""``) and its ``Erase.HASH`` columns to ``hash_value(value)``; ``Erase.KEEP``
      columns stay. The rows stay, so counts built on them stay right;
    * the subject's own row goes last, with whatever cascades from it.

    Returns the rows deleted or changed per ``"app.model"`` (a cascade counted under the
    model it reached), models with none left out. The caller (privacy's ``contact_erase``)
    holds the transaction, suppresses the address and writes the audit.
    """
    identifiers = _subject_identifiers(subject)
    changed: dict[str, int] = {}

    def add(label: str, count: int) -> None:
        if count:
            changed[label.lower()] = changed.get(label.lower(), 0) + count

    for declaration in _declarations.values():
        if declaration.before_erase is not None:
            declaration.before_erase(
                subject_id=subject.pk, visitor_ids=frozenset(identifiers[LinkKind.VISITOR])
            )
    blanks: list[tuple[PersonalData, models.QuerySet]] = []
    deletions: list[models.QuerySet] = []
    for declaration in _declarations.values():
        if any(link.kind is LinkKind.SUBJECT for link in declaration.links):
            continue
        condition = _subject_filter(declaration, subject.pk, identifiers)
        if condition is None:
            continue
        rows = declaration.model._base_manager.filter(condition)
        if any(column.erase is Erase.DELETE_ROW for column in declaration.columns):
            deletions.append(rows)
        elif any(column.erase in (Erase.BLANK, Erase.HASH) for column in declaration.columns):
            blanks.append((declaration, rows))
    # Rows that stay first, while their links still find them (a contact's delete nulls some).
    for declaration, rows in blanks:
        add(declaration.label, _rows_blank(declaration, rows, hash_value))
    for rows in deletions:
        for label, count in rows.delete()[1].items():
            add(label, count)
    for label, count in type(subject)._base_manager.filter(pk=subject.pk).delete()[1].items():
        add(label, count)
    return changed


def _empty_value(field: models.Field) -> Any:
    if field.null:
        return None
    if field.has_default():
        return field.get_default()
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.CharField | models.TextField):
        return ""
    raise ImproperlyConfigured(
        f"{field.model._meta.label_lower}.{field.name} has no empty value to erase it to"
    )


def _rows_blank(
    declaration: PersonalData, rows: models.QuerySet, hash_value: Callable[[str], str]
) -> int:
    """Blank and hash the declared columns of ``rows``; how many rows changed."""
    model = declaration.model
    blank = {
        column.name: _empty_value(model._meta.get_field(column.name))
        for column in declaration.columns
        if column.erase is Erase.BLANK
    }
    hashed = [column.name for column in declaration.columns if column.erase is Erase.HASH]
    pks = list(rows.order_by("pk").values_list("pk", flat=True))
    if not pks:
        return 0
    if blank:
        model._base_manager.filter(pk__in=pks).update(**blank)
    for name in hashed:  # one value per row: an UPDATE each (one person's rows)
        field = model._meta.get_field(name)
        for pk, value in model._base_manager.filter(pk__in=pks).values_list("pk", name):
            if value:
                digest = hash_value(str(value))[: getattr(field, "max_length", None) or None]
                model._base_manager.filter(pk=pk).update(**{name: digest})
    return len(pks)


# --- Merge ----------------------------------------------------------------------------------


def rows_move(*, keep_id: int, gone_id: int) -> dict[str, int]:
    """Move every declared row of contact ``gone_id`` to contact ``keep_id``, as declared.

    Runs in the caller's transaction (the merge's), before ``gone_id`` is deleted. Returns
    the rows changed per ``"<app>.<model>.<field>"`` (for a merge function, per model), the
    models with none left out.
    """
    moved: dict[str, int] = {}
    for declaration in _declarations.values():
        if declaration.merge is None:
            continue
        if callable(declaration.merge) and not isinstance(declaration.merge, Merge):
            counts = {declaration.label: declaration.merge(keep_id=keep_id, gone_id=gone_id)}
        else:
            counts = {
                f"{declaration.label}.{link.field}": _link_repoint(
                    declaration.model,
                    link,
                    keep_id=keep_id,
                    gone_id=gone_id,
                    drop_on_conflict=declaration.merge is Merge.DROP_ON_CONFLICT,
                )
                for link in declaration.merge_links
            }
        moved.update({key: count for key, count in counts.items() if count})
    return moved


def _link_repoint(
    model: type[models.Model], link: Link, *, keep_id: int, gone_id: int, drop_on_conflict: bool
) -> int:
    """One UPDATE of the link column; with ``drop_on_conflict``, when that UPDATE breaks a
    unique constraint the rows move one by one and those the survivor has a twin of go."""
    field = model._meta.get_field(link.field)
    rows = model._base_manager.filter(**{field.attname: gone_id})
    if not drop_on_conflict:
        return rows.update(**{field.name: keep_id})
    try:
        with transaction.atomic():
            return rows.update(**{field.name: keep_id})
    except IntegrityError:
        pass
    count = 0
    for pk in list(rows.order_by("pk").values_list("pk", flat=True)):
        try:
            with transaction.atomic():
                count += model._base_manager.filter(pk=pk).update(**{field.name: keep_id})
        except IntegrityError:
            model._base_manager.filter(pk=pk).delete()
    return count
