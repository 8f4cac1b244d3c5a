"""Declaring models and fields: what is accepted, what is refused and how it says so."""

from __future__ import annotations

import pytest

from vivace.orm import ModelDefinitionError


def test_field_definition_errors() -> None:
    from vivace.orm import SET_NULL, CharField, DecimalField, EnumField, ForeignKey, IntegerField

    with pytest.raises(ModelDefinitionError, match="max_length"):
        CharField(max_length=0)
    with pytest.raises(ModelDefinitionError, match="decimal_places"):
        DecimalField(max_digits=2, decimal_places=3)
    with pytest.raises(ModelDefinitionError, match="Enum class"):
        EnumField(str)  # type: ignore[arg-type]
    with pytest.raises(ModelDefinitionError, match="unknown option"):
        IntegerField(nul=True)  # type: ignore[call-arg]
    with pytest.raises(ModelDefinitionError, match="null=True"):
        ForeignKey("X", on_delete=SET_NULL)
    with pytest.raises(ModelDefinitionError, match="on_delete"):
        ForeignKey("X", on_delete="CASCADE")  # type: ignore[arg-type]


def test_models_refuse_bad_declarations() -> None:
    from vivace.orm import AutoField, CharField, IntegerField, Model

    with pytest.raises(ModelDefinitionError, match="two primary keys"):

        class TwoKeys(Model):
            a: int = AutoField()
            b: int = IntegerField(primary_key=True)

    with pytest.raises(ModelDefinitionError, match="unknown option 'tabel'"):

        class BadMeta(Model):
            name: str = CharField(max_length=5)

            class Meta:
                tabel = "x"

    class Concrete(Model):
        name: str = CharField(max_length=5)

        class Meta:
            table = "def_concrete"

    with pytest.raises(ModelDefinitionError, match="multi-table inheritance"):

        class Child(Concrete):
            pass

    with pytest.raises(ModelDefinitionError, match="cannot be a field name"):

        class Reserved(Model):
            pk: int = IntegerField()  # type: ignore[assignment]

    with pytest.raises(ModelDefinitionError, match="not a primary key"):

        class NotKey(Model):
            id: int = IntegerField()

    with pytest.raises(ModelDefinitionError, match="already belongs"):

        class Same(Model):
            class Meta:
                table = "def_concrete"


def test_model_basics() -> None:
    import datetime

    from vivace.orm import CharField, DateTimeField, IntegerField, Model, NotLoadedError

    class Point(Model):
        label: str = CharField(max_length=5, default="p")
        x: int = IntegerField(default=0)
        seen: datetime.datetime | None = DateTimeField(null=True, default=None)

        class Meta:
            table = "def_point"

    a, b = Point(id=1), Point(id=1, label="other")
    assert a == b and hash(a) == hash(b) and a != Point(id=2)
    unsaved = Point()
    assert unsaved == unsaved and unsaved != Point()
    with pytest.raises(TypeError, match="not hashable"):
        hash(unsaved)
    assert a != "x" and (a == "x") is False
    assert repr(Point(label="x" * 60)).startswith("Point(id=None, label='xxxx")
    assert isinstance(Point.label, CharField) and Point.label.name == "label"
    assert repr(Point.label) == "<CharField Point.label>"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        Point.nope  # noqa: B018
    with pytest.raises(AttributeError):
        Point().nope  # type: ignore[attr-defined]  # noqa: B018
    del a.__dict__["x"]
    with pytest.raises(NotLoadedError, match="refresh_from_db"):
        a.x  # noqa: B018
    with pytest.raises(AttributeError, match="through the class"):
        a.objects  # noqa: B018
    a.pk = 5
    assert a.id == 5
    assert Point._meta.field_names() == ["id", "label", "x", "seen"]
    assert repr(Point._meta) == "<Options for Point>"


def test_field_options_and_checks() -> None:
    import decimal
    import enum

    import sqlalchemy as sa

    from vivace.orm import (
        BigAutoField,
        CharField,
        DecimalField,
        IntegerField,
        PositiveSmallIntegerField,
        TextField,
    )

    class Size(enum.Enum):
        S = "s"

    letters = CharField(max_length=3, choices=[("a", "A"), ("b", "B")], validators=[_no_b])
    assert letters.check("a") == [] and letters.check("b") == ["no b"]
    assert letters.check("zzzz") == [
        "'zzzz' is not one of the choices ('a', 'b')",
        "at most 3 characters (got 4)",
    ]
    assert CharField(max_length=2, choices=Size).choices == ("s",)
    assert PositiveSmallIntegerField().check(-1) == ["must be between 0 and 32767"]
    assert IntegerField().check(5) == []
    money = DecimalField(max_digits=5, decimal_places=2)
    assert money.check(decimal.Decimal("123.45")) == []
    assert money.check(decimal.Decimal("1.234")) == ["at most 2 decimal places"]
    assert money.check(decimal.Decimal("1234.5")) == ["at most 3 digits before the point"]
    assert money.check(decimal.Decimal("NaN")) == ["must be a finite number"]
    assert CharField(max_length=1).is_empty("") and TextField().is_empty(None)
    assert not IntegerField().is_empty(0)
    assert IntegerField(default=lambda: 3).get_default() == 3
    listed = IntegerField(default=[1])
    assert listed.get_default() == [1] and listed.get_default() is not listed.default
    assert IntegerField().get_default() is None
    for value in (True, 5, "x", sa.text("1 + 1")):
        field = IntegerField(db_default=value)
        field.name = field.attname = field.column_name = "c"
        assert field.sa_column().server_default is not None
    bad = IntegerField(db_default=object())
    bad.name = bad.attname = bad.column_name = "c"
    with pytest.raises(ModelDefinitionError, match="db_default"):
        bad.sa_column()
    assert isinstance(BigAutoField().sa_type(), sa.BigInteger)
    unbound = IntegerField()
    assert repr(unbound) == "<IntegerField unbound>"
    assert unbound.clone().default is unbound.default


def _no_b(value: object) -> None:
    if value == "b":
        raise ValueError("no b")


def test_expressions() -> None:
    from vivace.orm import Count, F, OrderBy, Q, QueryError, Value

    params: list[object] = []
    combined = 1 + F("a") - 2
    assert repr(combined) == "((Value(1) + F('a')) - Value(2))"
    for expression in (2 * F("a"), 2 - F("a"), 2 / F("a"), F("a") % 3, -F("a"), F("a") / 2):
        assert expression.key(params)[0] == "op"
    assert Value(None).key(params) == ("null",)
    assert F("a").asc(nulls_first=True).key(params) == ("ord", ("F", "a"), False, "first")
    with pytest.raises(QueryError):
        F("")
    with pytest.raises(QueryError):
        OrderBy(F("a"), nulls_first=True, nulls_last=True)
    with pytest.raises(QueryError):
        Count(3)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="Q object"):
        Count("a", filter="x")
    assert repr(Count("a")) == "Count(F('a'))"
    assert Q(a=1) == Q(a=1) and Q(a=1) != Q(a=2) and (Q(a=1) == 1) is False
    assert (Q() & Q(a=1)) == Q(a=1) and (Q(a=1) | Q()) == Q(a=1)
    assert repr(~Q(a=1)) == "<Q: (NOT (AND: ('a', 1)))>"
    with pytest.raises(TypeError):
        Q(a=1) & 1  # type: ignore[operator]
    assert (Count("a") + 1).contains_aggregate


def test_a_model_defined_again_keeps_its_relations() -> None:
    import sqlalchemy as sa

    from vivace.orm import CASCADE, CharField, ForeignKey, ManyToManyField, Model

    def define() -> type[Model]:
        class Again(Model):
            name: str = CharField(max_length=5)
            parent = ForeignKey("self", on_delete=CASCADE, null=True, default=None)
            links = ManyToManyField("self")

            class Meta:
                table = "def_again"
                metadata = sa.MetaData()

        return Again

    for _ in range(2):  # a module reloaded: the same qualified name again
        model = define()
        through = model._meta.fields["links"].through  # type: ignore[attr-defined]
        assert model._meta.table is not None and through._meta.table is not None
