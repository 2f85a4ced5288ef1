"""Frozen records: ``@dataclass(frozen=True)`` for the values ``vpnguard status`` builds.

Why not dataclasses: importing :mod:`dataclasses` pulls in :mod:`inspect` (and
``ast``, ``dis``, ``tokenize``) and every ``@dataclass`` compiles generated
source with ``exec``; together they were about a third of ``vpnguard status``'s
start-up. :func:`record` builds the same class without either: ``__init__``,
``__eq__``, ``__hash__``, ``__repr__``, frozen ``__setattr__``/``__delattr__``
and ``__match_args__`` are shared closures over the field names.

The semantics are those of ``@dataclass(frozen=True)`` (eq, hash from the
compared fields, a method defined in the class body wins, defaults after
non-defaults, mutable defaults refused, ``__post_init__``, inheritance), and
the :mod:`dataclasses` functions keep working on records: ``dataclasses.fields``,
``replace``, ``asdict``, ``astuple`` and ``is_dataclass`` read a lazily built
``__dataclass_fields__`` (the first use imports :mod:`dataclasses`; the
status path never does). Assigning to a field raises
``dataclasses.FrozenInstanceError`` as a dataclass would. Use :func:`replace`
from this module on hot paths: it gives the same result without the import.

Typed for mypy with ``typing.dataclass_transform`` (only while type checking).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any, TypeVar, dataclass_transform, overload

    _T = TypeVar("_T")


class _Field:
    """What :func:`field` returns in a class body: a default and its options."""

    __slots__ = ("compare", "default", "repr")

    def __init__(self, default: object, compare: bool, repr: bool) -> None:
        self.default = default
        self.compare = compare
        self.repr = repr


_MISSING: Any = object()

if TYPE_CHECKING:

    @overload
    def field(*, default: _T, compare: bool = True, repr: bool = True) -> _T: ...

    @overload
    def field(*, compare: bool = True, repr: bool = True) -> Any: ...

    def field(*, default: Any = _MISSING, compare: bool = True, repr: bool = True) -> Any:
        """A field with options (as ``dataclasses.field(default=..., compare=..., repr=...)``)."""

else:

    def field(*, default=_MISSING, compare=True, repr=True):
        return _Field(default, compare, repr)  # replaced by record()


_RECORDS: dict[type, tuple[str, ...]] = {}  # class -> every field name, in order


def _names(cls: type) -> tuple[str, ...] | None:
    """The fields of ``cls``: its own, or those of the record it inherits from."""
    names = _RECORDS.get(cls)
    if names is None:
        for base in cls.__mro__[1:]:
            names = _RECORDS.get(base)
            if names is not None:
                break
    return names


def _is_classvar(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


class _DataclassFields:
    """``__dataclass_fields__`` on first access: the fields of an equivalent real dataclass."""

    def __get__(self, obj: object, cls: type) -> dict[str, Any]:
        owner = next(c for c in cls.__mro__ if c in _RECORDS)  # an undecorated subclass inherits
        built = owner.__dict__.get("_record_dataclass_fields")
        if built is None:
            import dataclasses

            cls = owner
            specs: list[Any] = []
            for name in _RECORDS[cls]:
                default = cls.__record_defaults__.get(name, _MISSING)  # type: ignore[attr-defined]
                options = cls.__record_options__.get(name, (True, True))  # type: ignore[attr-defined]
                if default is _MISSING:
                    spec: Any = dataclasses.field(compare=options[0], repr=options[1])
                else:
                    spec = dataclasses.field(default=default, compare=options[0], repr=options[1])
                specs.append((name, cls.__record_types__[name], spec))  # type: ignore[attr-defined]
            shadow = dataclasses.make_dataclass(cls.__name__, specs, frozen=True)
            built = dict(shadow.__dataclass_fields__)  # type: ignore[attr-defined]
            type.__setattr__(cls, "_record_dataclass_fields", built)
        return built


def _frozen_error(text: str) -> Exception:
    import dataclasses  # only on this error path: the exception a frozen dataclass raises

    return dataclasses.FrozenInstanceError(text)


def _build(cls: type) -> type:
    names: list[str] = []
    defaults: dict[str, object] = {}
    types: dict[str, object] = {}
    options: dict[str, tuple[bool, bool]] = {}
    for base in reversed(cls.__mro__[1:]):  # inherited fields first, as dataclasses does
        if base in _RECORDS:
            for name in _RECORDS[base]:
                if name not in names:
                    names.append(name)
            defaults.update(base.__record_defaults__)  # type: ignore[attr-defined]
            types.update(base.__record_types__)  # type: ignore[attr-defined]
            options.update(base.__record_options__)  # type: ignore[attr-defined]
    own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063  # not inspect: its import
    for name, annotation in own.items():
        if _is_classvar(annotation):
            continue
        if name not in names:
            names.append(name)
        types[name] = annotation
        value = cls.__dict__.get(name, _MISSING)
        if isinstance(value, _Field):
            options[name] = (value.compare, value.repr)
            value = value.default
            if value is _MISSING:
                delattr(cls, name)  # no default: no class attribute, as in dataclasses
            else:
                setattr(cls, name, value)  # the class attribute is the default, as in dataclasses
        if value is _MISSING:
            defaults.pop(name, None)
            continue
        if type(value).__hash__ is None:
            raise ValueError(
                f"mutable default {type(value)} for field {name} is not allowed: "
                "records are frozen values"
            )
        defaults[name] = value
    seen_default = False
    for name in names:
        if name in defaults:
            seen_default = True
        elif seen_default:
            raise TypeError(f"non-default argument {name!r} follows default argument")

    fields = tuple(names)
    compared = tuple(n for n in fields if options.get(n, (True, True))[0])
    shown = tuple(n for n in fields if options.get(n, (True, True))[1])
    count = len(fields)
    known = frozenset(fields)
    post_init = hasattr(cls, "__post_init__")
    qualname = cls.__qualname__

    def __init__(self: Any, *args: object, **kwargs: object) -> None:
        if len(args) > count:
            raise TypeError(
                f"{qualname}.__init__() takes {count + 1} positional arguments "
                f"but {len(args) + 1} were given"
            )
        values = dict(zip(fields, args, strict=False))  # fewer args: defaults
        for key in kwargs:
            if key in values:
                raise TypeError(f"{qualname}.__init__() got multiple values for argument {key!r}")
            if key not in known:
                raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument {key!r}")
        values.update(kwargs)
        state = self.__dict__
        for name in fields:
            value = values.get(name, _MISSING)
            if value is _MISSING:
                value = defaults.get(name, _MISSING)
                if value is _MISSING:
                    raise TypeError(f"{qualname}.__init__() missing required argument: {name!r}")
            state[name] = value
        if post_init:
            self.__post_init__()

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in shown)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            mine = tuple(getattr(self, n) for n in compared)
            return mine == tuple(getattr(other, n) for n in compared)
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(tuple(getattr(self, n) for n in compared))

    owner: type = cls

    def __setattr__(self: Any, name: str, value: object) -> None:
        if type(self) is owner or name in known:
            raise _frozen_error(f"cannot assign to field {name!r}")
        super(owner, self).__setattr__(name, value)  # type: ignore[arg-type]

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is owner or name in known:
            raise _frozen_error(f"cannot delete field {name!r}")
        super(owner, self).__delattr__(name)  # type: ignore[arg-type]

    body = cls.__dict__
    explicit_hash = "__hash__" in body and not (body["__hash__"] is None and "__eq__" in body)
    methods: dict[str, object] = {
        "__init__": __init__,
        "__repr__": __repr__,
        "__eq__": __eq__,
        "__setattr__": __setattr__,
        "__delattr__": __delattr__,
    }
    for name, method in methods.items():
        if name not in body:
            method.__qualname__ = f"{qualname}.{name}"  # type: ignore[attr-defined]
            setattr(cls, name, method)
    if not explicit_hash:
        __hash__.__qualname__ = f"{qualname}.__hash__"
        cls.__hash__ = __hash__  # type: ignore[method-assign, assignment]
    if "__match_args__" not in body:
        setattr(cls, "__match_args__", fields)  # noqa: B010  # mypy: not assignable
    cls.__record_defaults__ = defaults  # type: ignore[attr-defined]
    cls.__record_types__ = types  # type: ignore[attr-defined]
    cls.__record_options__ = options  # type: ignore[attr-defined]
    cls.__dataclass_fields__ = _DataclassFields()  # type: ignore[attr-defined]
    _RECORDS[cls] = fields
    return cls


if TYPE_CHECKING:

    @dataclass_transform(frozen_default=True, field_specifiers=(field,))
    def record(cls: type[_T], /) -> type[_T]:
        """A frozen dataclass-like value class (see the module docstring)."""

else:
    record = _build


def fields_of(obj: object) -> tuple[str, ...] | None:
    """The field names of a record (class or instance) in order; None if it is not one."""
    return _names(obj if isinstance(obj, type) else type(obj))


def replace(obj: _T, /, **changes: object) -> _T:
    """A copy of the record ``obj`` with ``changes`` (as ``dataclasses.replace``)."""
    names = _names(type(obj))
    if names is None:
        raise TypeError("replace() should be called on record instances")
    for name in names:
        if name not in changes:
            changes[name] = getattr(obj, name)
    return type(obj)(**changes)
