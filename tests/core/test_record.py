"""vpnguard.core.record behaves as ``@dataclass(frozen=True)``: each case side by side with one."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import ClassVar

import pytest

from vpnguard.core import model
from vpnguard.core.browsers.catalog import CATALOG
from vpnguard.core.host import Host
from vpnguard.core.record import field, fields_of, record, replace


@record
class Rec:
    name: str
    size: int = 0
    tags: tuple[str, ...] = ()
    secret: str = field(default="", compare=False, repr=False)
    kind: ClassVar[str] = "not a field"


@dataclasses.dataclass(frozen=True)
class Dat:
    name: str
    size: int = 0
    tags: tuple[str, ...] = ()
    secret: str = dataclasses.field(default="", compare=False, repr=False)
    kind: ClassVar[str] = "not a field"


BOTH = pytest.mark.parametrize("cls", [Rec, Dat], ids=["record", "dataclass"])


@BOTH
def test_construction_positional_keyword_and_defaults(cls: type[Rec]) -> None:
    a = cls("a", 2, ("x",), "s")
    assert (a.name, a.size, a.tags, a.secret) == ("a", 2, ("x",), "s")
    b = cls(name="b")
    assert (b.name, b.size, b.tags, b.secret) == ("b", 0, (), "")
    assert vars(cls("c", tags=("t",))) == {"name": "c", "size": 0, "tags": ("t",), "secret": ""}
    assert cls.kind == "not a field" and "kind" not in vars(b)
    assert cls.size == 0  # the class attribute is the default


@BOTH
@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "name"),  # missing
        (("a",), {"name": "b"}, "multiple values"),
        (("a",), {"colour": 1}, "unexpected keyword"),
        (("a", 1, (), "s", "extra"), {}, "positional"),
    ],
)
def test_bad_construction_is_a_type_error(
    cls: type[Rec], args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        cls(*args, **kwargs)


@BOTH
def test_frozen(cls: type[Rec]) -> None:
    a = cls("a")
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'name'"):
        a.name = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):  # FrozenInstanceError is one
        a.other = 1  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'size'"):
        del a.size
    assert a.name == "a" and a.size == 0


@BOTH
def test_eq_and_hash_follow_the_compared_fields(cls: type[Rec]) -> None:
    a, b = cls("a", 1, secret="x"), cls("a", 1, secret="y")
    assert a == b and hash(a) == hash(b)  # secret is compare=False
    assert a != cls("a", 2) and a != cls("b", 1)
    assert hash(a) == hash(("a", 1, ()))
    assert len({a, b, cls("c")}) == 2
    assert a != ("a", 1, ()) and a.__eq__(("a", 1, ())) is NotImplemented
    same = cls("n", size=float("nan"))  # type: ignore[arg-type]
    assert same == same  # fields compared as tuples are: an identical NaN is equal


def test_records_and_dataclasses_never_compare_equal() -> None:
    assert Rec("a") != Dat("a")
    assert Dat("a") != Rec("a")


def test_repr_is_the_dataclass_repr() -> None:
    assert repr(Rec("a", 2, ("x",), "hidden")) == "Rec(name='a', size=2, tags=('x',))"
    assert repr(Rec("a", 2, ("x",), "hidden")) == repr(Dat("a", 2, ("x",), "hidden")).replace(
        "Dat(", "Rec("
    )


def test_dataclasses_functions_work_on_records() -> None:
    a = Rec("a", 2, ("x",), "s")
    assert dataclasses.is_dataclass(a) and dataclasses.is_dataclass(Rec)
    rf, df = dataclasses.fields(a), dataclasses.fields(Dat)
    assert [(f.name, f.type, f.default, f.compare, f.repr) for f in rf] == [
        (f.name, f.type, f.default, f.compare, f.repr) for f in df
    ]
    assert dataclasses.asdict(a) == dataclasses.asdict(Dat("a", 2, ("x",), "s"))
    assert dataclasses.astuple(a) == ("a", 2, ("x",), "s")
    changed = dataclasses.replace(a, size=3)
    assert type(changed) is Rec and changed == Rec("a", 3, ("x",), "s")
    assert changed.secret == "s"


def test_replace_without_dataclasses() -> None:
    a = Rec("a", 2, ("x",), "s")
    assert replace(a, size=5) == dataclasses.replace(a, size=5)
    assert replace(a, secret="t").secret == "t"
    assert replace(a) == a and replace(a) is not a
    with pytest.raises(TypeError, match="unexpected keyword"):
        replace(a, colour=1)
    with pytest.raises(TypeError, match="record"):
        replace(Dat("a"), size=1)


def test_fields_of() -> None:
    assert fields_of(Rec) == ("name", "size", "tags", "secret")
    assert fields_of(Rec("a")) == fields_of(Rec)
    assert fields_of(Dat) is None and fields_of("text") is None


def test_class_body_methods_win_and_post_init_runs() -> None:
    calls: list[str] = []

    @record
    class Custom:
        a: int
        b: int | None = None

        def __post_init__(self) -> None:
            calls.append("post")
            if self.b is None:
                object.__setattr__(self, "b", self.a * 2)  # as Host fills in its system

        def __repr__(self) -> str:
            return "custom"

    c = Custom(3)
    assert calls == ["post"] and c.b == 6 and repr(c) == "custom"
    assert c == Custom(3, 6) and hash(c) == hash((3, 6))

    @record
    class OwnHash:
        a: int

        def __hash__(self) -> int:
            return 7

    assert hash(OwnHash(1)) == 7


def test_inheritance_puts_base_fields_first() -> None:
    @record
    class Base:
        a: int
        b: str = "b"

    @record
    class Child(Base):
        c: float = 1.0

    x = Child(1, "x", 2.0)
    assert (x.a, x.b, x.c) == (1, "x", 2.0)
    assert fields_of(Child) == ("a", "b", "c")
    assert x != Base(1, "x")
    assert [f.name for f in dataclasses.fields(Child)] == ["a", "b", "c"]


def test_definition_errors_match_dataclasses() -> None:
    with pytest.raises(ValueError, match="mutable default"):

        @record
        class Mutable:
            items: list[int] = []  # noqa: RUF012

    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @record
        class Order:
            a: int = 0
            b: int  # type: ignore[misc]


def test_match_pickle_and_copy() -> None:
    a = Rec("a", 2)
    match a:
        case Rec(name, size):
            assert (name, size) == ("a", 2)
        case _:
            pytest.fail("no match")
    assert Rec.__match_args__ == Dat.__match_args__
    assert pickle.loads(pickle.dumps(a)) == a
    assert copy.copy(a) == a and copy.deepcopy(a) == a


def test_the_models_values_are_records_with_their_dataclass_fields() -> None:
    values = [
        model.PolicyTarget,
        model.Browser,
        model.Conflict,
        model.TargetState,
        model.PolicyState,
        model.NetInterface,
        model.Route,
        model.NetworkState,
        Host,
        type(CATALOG[0]),
    ]
    for cls in values:
        names = fields_of(cls)
        assert names, cls
        assert tuple(f.name for f in dataclasses.fields(cls)) == names
    host = Host.current()
    other = dataclasses.replace(host, home="/elsewhere")
    assert other.home == "/elsewhere" and other.system is host.system
    assert other == replace(host, home="/elsewhere")
    assert "system" not in repr(host)  # compare=False, repr=False, as before


def test_the_lazy_model_values_keep_their_dataclass_behaviour() -> None:
    server = model.TurnServer("turn:example.org", "user", "s3cret")
    assert "s3cret" not in repr(server) and server.credential == "s3cret"
    with pytest.raises(TypeError, match="credential"):
        model.TurnServer("turn:example.org", "user")  # type: ignore[call-arg]
    assert not hasattr(model.TurnServer, "credential")  # no default: no class attribute
    change = model.FileChange("/etc/x.json", "create", ("chromium",))  # type: ignore[arg-type]
    assert change.action is model.FileAction.CREATE  # __post_init__ converted it
    assert dataclasses.replace(change, detail="d").action is model.FileAction.CREATE
    assert model.AutoChoice(model.Level.RELAY, "why").to_json() == {
        "level": "relay",
        "reason": "why",
    }


def test_an_undecorated_subclass_is_still_a_record() -> None:
    class Plain(Rec):
        def extra(self) -> str:
            return self.name * 2

    p = Plain("a", 1)
    assert p.extra() == "aa" and fields_of(p) == fields_of(Rec)
    assert [f.name for f in dataclasses.fields(p)] == ["name", "size", "tags", "secret"]
    assert type(replace(p, size=2)) is Plain and type(dataclasses.replace(p, size=2)) is Plain
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "b"  # type: ignore[misc]
    p.note = "ok"  # type: ignore[attr-defined]  # a subclass's own attribute, as dataclasses allows
    assert p.note == "ok"  # type: ignore[attr-defined]
