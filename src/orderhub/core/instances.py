"""Building model instances quickly, for paths that make thousands of them.

``Model(**kwargs)`` walks every field of the model, resolves defaults one by one and routes
related objects through their descriptors; for a 30-column model that is most of the cost of
preparing an order in a batch import. :func:`new` gives the same instance (same ``__dict__``,
same related-object cache, ``_state.adding`` True) from a per-model template of defaults.
:func:`loaded` gives what ``Model.from_db`` gives for a row read by hand (``core.fastsql``: a
move's locked order, lines, products and stock rows), without the constructor's walk.

Only for models without ``pre_init``/``post_init`` receivers (the signals are not sent; a
model that has one is built by its own constructor) and for keyword arguments that are field
names or attnames; anything else raises TypeError, as the model's own constructor would.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model, signals
from django.db.models.base import ModelState


@cache
def _plan(model: type[Model]) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...], dict[str, Any],
                                      frozenset[str]]:
    """(static defaults by attname, (attname, callable default) pairs, relation fields by name,
    the attnames with a callable default)."""
    static: dict[str, Any] = {}
    dynamic: list[tuple[str, Any]] = []
    relations: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        if f.is_relation:
            relations[f.name] = f
        if (f.has_default() and callable(f.default)) or (not f.has_default() and f.has_db_default()):
            dynamic.append((f.attname, f.get_default))
        else:
            static[f.attname] = f.get_default()
    return static, tuple(dynamic), relations, frozenset(a for a, _ in dynamic)


M = TypeVar("M", bound=Model)


def new(model: type[M], **values: Any) -> M:
    """An unsaved instance of ``model``, as ``model(**values)`` would make it."""
    static, dynamic, relations, dynamic_names = _plan(model)
    obj = model.__new__(model)
    obj._state = ModelState()
    d = obj.__dict__
    d.update(static)
    for attname, factory in dynamic:
        d[attname] = factory()
    for name, value in values.items():
        f = relations.get(name)
        if f is not None:
            if value is None or f.one_to_one or settings.DATABASE_ROUTERS:
                setattr(obj, name, value)  # the descriptor's general case
                continue
            # what ForwardManyToOneDescriptor.__set__ does for a many-to-one without routers
            if not isinstance(value, f.remote_field.model._meta.concrete_model):
                raise ValueError(f'Cannot assign "{value!r}": "{model.__name__}.{name}" must be a '
                                 f'"{f.remote_field.model._meta.object_name}" instance.')
            if obj._state.db is None:
                obj._state.db = value._state.db or DEFAULT_DB_ALIAS
            if value._state.db is None:
                value._state.db = obj._state.db
            elif value._state.db != obj._state.db:
                raise ValueError(f'Cannot assign "{value!r}": the current database router prevents '
                                 "this relation.")
            d[f.attname] = getattr(value, f.target_field.attname)
            obj._state.fields_cache[name] = value
        elif name in static or name in dynamic_names:
            d[name] = value
        else:
            raise TypeError(f"{model.__name__}() got an unexpected keyword argument '{name}'")
    return obj


def attach(objs: Iterable[Model], name: str, value: Model) -> None:
    """``obj.<name> = value`` for each of ``objs`` (instances of one model; ``name`` a
    many-to-one field), as the descriptor does it without routers, in one pass."""
    objs = list(objs)
    if not objs:
        return
    f = _plan(type(objs[0]))[2][name]
    if f.one_to_one or settings.DATABASE_ROUTERS or not isinstance(
            value, f.remote_field.model._meta.concrete_model):
        for o in objs:
            setattr(o, name, value)
        return
    pk = getattr(value, f.target_field.attname)
    for o in objs:
        if o._state.db is None:
            o._state.db = value._state.db or DEFAULT_DB_ALIAS
        if value._state.db is None:
            value._state.db = o._state.db
        o.__dict__[f.attname] = pk
        o._state.fields_cache[name] = value


@cache
def _plain_init(model: type[Model]) -> bool:
    """Whether nothing listens to the model's construction (receivers connect when the apps are
    ready, before any row is read)."""
    return not (signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model))


def loaded(model: type[M], attnames: list[str], values: list[Any], db: str = DEFAULT_DB_ALIAS) -> M:
    """The instance ``model.from_db(db, attnames, values)`` gives: those attributes set, every
    other field deferred (read on first access), ``_state`` as loaded from ``db``. The values
    are the attributes' own (an attname's, a foreign key's id), converted already."""
    if not _plain_init(model):
        return model.from_db(db, attnames, values)
    obj = model.__new__(model)
    state = obj._state = ModelState()
    state.adding, state.db = False, db
    obj.__dict__.update(zip(attnames, values, strict=True))
    return obj
