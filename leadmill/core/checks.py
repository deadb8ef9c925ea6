"""System checks of core: the personal-data registry (:mod:`.personal_data`), and the lean
paths' middleware being a subset of settings.MIDDLEWARE.

They run with every ``leadmill check``, ``migrate`` and server start, so a table that holds a
contact's data cannot be added without saying how merge, export and erasure treat it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.apps import apps
from django.core import checks
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from . import personal_data
from .personal_data import CONTACT_KEYED, Erase, Export, LinkKind, Merge, PersonalData

HINT = "Declare it with register_personal_data() in the app's AppConfig.ready (docs/privacy.md)."


@checks.register()
def personal_data_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every foreign key to the contact is declared, and every declaration is sound."""
    if app_configs is None:
        candidates = apps.get_models(include_auto_created=True)
    else:
        candidates = [
            model
            for config in app_configs
            for model in config.get_models(include_auto_created=True)
        ]
    return personal_data_problems(models_=candidates)


def personal_data_problems(*, models_: Iterable[type[models.Model]]) -> list[checks.CheckMessage]:
    """The registry's problems for ``models_`` (every installed model in the system check)."""
    subject = personal_data.subject_model()
    if subject is None:
        return [
            checks.Error(
                "No model is declared as the contact (Link.subject()).",
                hint=HINT,
                id="leadmill.core.E101",
            )
        ]
    problems: list[checks.CheckMessage] = []
    models_ = list(models_)
    for model in models_:
        declaration = personal_data.declaration_for(model)
        declared = {link.field for link in declaration.links} if declaration else set()
        for field in _foreign_keys_to(model, subject):
            if field.name not in declared:
                problems.append(
                    checks.Error(
                        f"{model._meta.label}.{field.name} points at the contact, but no personal-data "
                        "declaration covers it: a merge would lose these rows, export and erasure would miss them.",
                        hint=HINT,
                        obj=model,
                        id="leadmill.core.E102",
                    )
                )
    for declaration in personal_data.declarations():
        if declaration.model in models_:
            problems.extend(_declaration_problems(declaration, subject))
    return problems


def _foreign_keys_to(model: type[models.Model], subject: type[models.Model]) -> list[models.Field]:
    return [
        field
        for field in model._meta.get_fields()
        if field.concrete
        and field.is_relation
        and (field.many_to_one or field.one_to_one)
        and field.related_model is subject
    ]


def _declaration_problems(
    declaration: PersonalData, subject: type[models.Model]
) -> list[checks.CheckMessage]:
    model, label = declaration.model, declaration.model._meta.label

    def error(message: str, code: str) -> checks.Error:
        return checks.Error(
            f"{label}: {message}",
            hint="See docs/privacy.md, Declaring personal data.",
            obj=model,
            id=code,
        )

    problems: list[checks.CheckMessage] = []
    for link in declaration.links:
        if link.kind is LinkKind.SUBJECT:
            continue
        field = _field(model, link.field)
        if field is None:
            problems.append(
                error(f"the link field {link.field!r} does not exist.", "leadmill.core.E103")
            )
        elif link.kind is LinkKind.FOREIGN_KEY and field.related_model is not subject:
            problems.append(
                error(
                    f"the link {link.field!r} is not a foreign key to the contact.",
                    "leadmill.core.E103",
                )
            )
        elif (
            declaration.merge is Merge.REPOINT
            and link.kind in CONTACT_KEYED
            and _is_unique(model, field)
        ):
            problems.append(
                error(
                    f"{link.field!r} is under a unique constraint, so repointing it can conflict: "
                    "declare merge=Merge.DROP_ON_CONFLICT or a merge function.",
                    "leadmill.core.E104",
                )
            )
    if declaration.merge_links and declaration.merge is None:
        problems.append(
            error(
                "its rows point at the contact: declare how they move on merge.",
                "leadmill.core.E105",
            )
        )
    if not declaration.merge_links and declaration.merge is not None:
        problems.append(
            error(
                "nothing of it moves on merge (no contact link): leave merge out.",
                "leadmill.core.E105",
            )
        )
    for column in declaration.columns:
        if _field(model, column.name) is None:
            problems.append(
                error(f"the column {column.name!r} does not exist.", "leadmill.core.E106")
            )
        if (column.export is Export.OMIT or column.erase is Erase.KEEP) and not column.reason:
            problems.append(
                error(
                    f"{column.name!r} is omitted from export or kept on erasure: say why (reason).",
                    "leadmill.core.E107",
                )
            )
    return problems


def _field(model: type[models.Model], name: str) -> models.Field | None:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if field.concrete else None


def _is_unique(model: type[models.Model], field: models.Field) -> bool:
    """Whether the column is unique on its own or together with others (with a condition too)."""
    if field.unique or field.primary_key:
        return True
    together = [*model._meta.unique_together]
    together += [
        c.fields for c in model._meta.constraints if isinstance(c, models.UniqueConstraint)
    ]
    return any(field.name in fields or field.attname in fields for fields in together)


# --- The lean paths' middleware -----------------------------------------------------------


def lean_middleware_errors(names, *, check_id: str) -> list[checks.CheckMessage]:
    """An error naming each of ``names`` missing from settings.MIDDLEWARE (the lean paths of
    leadmill/core/wsgi.py run a subset of it, in its order, and cannot run a missing one)."""
    from .wsgi import lean_middleware_missing

    return [
        checks.Error(
            f"{name} is not in settings.MIDDLEWARE, but a lean path (leadmill/core/wsgi.py) needs it.",
            hint="Add it back to MIDDLEWARE, or take it out of the lean path's list.",
            id=check_id,
        )
        for name in lean_middleware_missing(names)
    ]


@checks.register()
def lean_middleware_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    from .wsgi import LEAN_MIDDLEWARE

    return lean_middleware_errors(LEAN_MIDDLEWARE, check_id="leadmill.core.E001")
