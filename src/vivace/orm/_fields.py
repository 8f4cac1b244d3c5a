"""Model fields: one class per column type, each knowing its SQL type and conversions.

A field is declared on a model with its Python type as the annotation::

    class Article(Model):
        title: str = CharField(max_length=200)
        views: int = IntegerField(default=0)

Typing: the field classes' constructors are typed as returning ``Any`` (their
``__new__``), so ``title: str = CharField(...)`` type-checks and mypy reads the
attribute type from the annotation; the model metaclass is a
``typing.dataclass_transform``, so the constructor ``Article(title=...)`` is typed
too.  A field given ``default=`` is optional in that constructor.

Theory of operation: values travel to the database as the driver takes them and come
back as the driver returns them.  Each field gives, per backend, a ``to_db`` and a
``from_db`` function (``None`` where the driver's value is already right), and the
query compiler strings the non-None ones into the per-shape row loaders — so a column
that needs no conversion costs nothing per row.  Examples: SQLite returns dates as
text, MySQL returns booleans as integers and TIME as a timedelta, PostgreSQL decodes
JSON itself.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import ipaddress
import re
import reprlib
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypedDict, TypeVar

import orjson

from ._errors import ModelDefinitionError, ValidationError

if TYPE_CHECKING:
    from typing import Unpack

    import sqlalchemy as sa

    from ._model import Model

__all__ = [
    "NOT_PROVIDED",
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BinaryField",
    "BooleanField",
    "CharField",
    "DateField",
    "DateTimeField",
    "DecimalField",
    "DurationField",
    "EmailField",
    "EnumField",
    "Field",
    "FloatField",
    "IntegerField",
    "JSONField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SlugField",
    "SmallIntegerField",
    "TextField",
    "TimeField",
    "UUIDField",
]

T = TypeVar("T")
Converter = Callable[[Any], Any] | None


class _NotProvided:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_PROVIDED"


#: The "no default" marker (``None`` is a valid default).
NOT_PROVIDED: Any = _NotProvided()


class FieldOptions(TypedDict, total=False):
    """The options every field takes (keyword arguments)."""

    primary_key: bool
    null: bool
    blank: bool
    default: Any
    db_default: Any
    unique: bool
    db_index: bool
    choices: Any
    db_column: str
    help_text: str
    validators: Sequence[Callable[[Any], Any]]


def utcnow() -> datetime.datetime:
    """Now, as a naive datetime in UTC (what DateTimeField stores)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class Field(Generic[T]):
    """A model field: one column (relations add their own behaviour on top).

    Options: ``primary_key``, ``null`` (the column may hold NULL), ``blank`` (an empty
    value passes validation), ``default`` (a value or a callable), ``db_default`` (a
    value or SQLAlchemy expression the *database* fills in), ``unique``, ``db_index``,
    ``choices`` (a sequence of values or ``(value, label)`` pairs, or an Enum),
    ``db_column``, ``help_text``, ``validators`` (callables raising ValueError).
    """

    #: The Python type of values (used by validation and derived schemas).
    python_type: type = object
    #: Whether the column is filled by the database on insert (an auto-increment key).
    auto_increment: ClassVar[bool] = False
    #: Whether this field is a relation to another model.
    is_relation: ClassVar[bool] = False
    #: Whether this field is a column of its model's table (M2M fields are not).
    concrete: ClassVar[bool] = True

    name: str
    attname: str
    column_name: str
    model: type[Model]

    def __new__(cls, **options: Unpack[FieldOptions]) -> Any:
        self = object.__new__(cls)
        self._setup(options)
        return self

    def _setup(self, options: FieldOptions) -> None:
        unknown = set(options) - set(FieldOptions.__annotations__)
        if unknown:
            raise ModelDefinitionError(
                f"{type(self).__name__}: unknown option(s) {', '.join(sorted(unknown))} "
                f"(valid: {', '.join(sorted(FieldOptions.__annotations__))})"
            )
        self.primary_key = options.get("primary_key", False)
        self.null = options.get("null", False)
        self.blank = options.get("blank", False)
        self.default = options.get("default", NOT_PROVIDED)
        self.db_default = options.get("db_default", NOT_PROVIDED)
        self.unique = options.get("unique", False) or self.primary_key
        self.db_index = options.get("db_index", False)
        self.db_column = options.get("db_column")
        self.help_text = options.get("help_text", "")
        self.validators = list(options.get("validators", ()))
        self.choices = _normalise_choices(options.get("choices"))

    def __repr__(self) -> str:
        owner = getattr(self, "model", None)
        where = f"{owner.__name__}.{self.name}" if owner is not None else "unbound"
        return f"<{type(self).__name__} {where}>"

    # -- binding to a model ------------------------------------------------------------

    def contribute(self, model: type[Model], name: str) -> None:
        """Called by the model metaclass: this field is ``name`` on ``model``."""
        self.model = model
        self.name = name
        self.attname = self.get_attname()
        self.column_name = self.db_column or self.attname

    def get_attname(self) -> str:
        return self.name

    def clone(self) -> Field[T]:
        """A fresh copy (abstract models hand each subclass its own field objects)."""
        new = object.__new__(type(self))
        new.__dict__.update(
            {k: v for k, v in self.__dict__.items() if k not in ("model", "name", "attname")}
        )
        return new

    # -- defaults ------------------------------------------------------------------------

    @property
    def has_default(self) -> bool:
        return self.default is not NOT_PROVIDED

    def get_default(self) -> Any:
        default = self.default
        if default is NOT_PROVIDED:
            return None
        if callable(default):
            return default()
        if isinstance(default, dict | list | set):
            # Each object gets its own copy of a mutable default.
            return type(default)(default)
        return default

    # -- SQL ------------------------------------------------------------------------------

    def sa_type(self) -> Any:
        raise NotImplementedError

    def sa_column(self) -> sa.Column[Any]:
        import sqlalchemy as sa

        kwargs: dict[str, Any] = {
            "primary_key": self.primary_key,
            "nullable": self.null and not self.primary_key,
            "key": self.attname,
        }
        if self.unique and not self.primary_key:
            kwargs["unique"] = True
        if self.db_index and not self.unique:
            kwargs["index"] = True
        if self.primary_key:
            kwargs["autoincrement"] = self.auto_increment
        if self.db_default is not NOT_PROVIDED:
            kwargs["server_default"] = _server_default(self.db_default)
        if self.help_text:
            kwargs["comment"] = self.help_text
        return sa.Column(self.column_name, self.sa_type(), **kwargs)

    def converters(self, backend: str) -> tuple[Converter, Converter]:
        """``(to_db, from_db)`` for ``backend``; None where the value passes as it is."""
        return None, None

    def parser(self, value_type: type) -> Converter:
        """How a filter value of ``value_type`` becomes one of this field's type.

        None when it already is one; a parser for text and other numbers, as Django's
        ``get_prep_value`` does (``views="3"`` from a query string); a
        ``ValidationError`` naming the field for a type that can never be one (a
        list, a dict ...).  Without this, each backend did something else with
        ``views="abc"``: PostgreSQL refused it with a driver error, SQLite matched
        nothing, MySQL truncated it to 0 and matched the rows holding 0.
        """
        return value_parser(self, self.python_type, value_type)

    def write_parser(self, value_type: type) -> Converter:
        """How a value of ``value_type`` written to this field (``save()``, ``create()``,
        ``update()``, ``bulk_create()``, ``bulk_update()``) becomes one of its type: as a
        filter value is (``parser``), where a field adds no rule of its own (DecimalField
        rounds to its places).  Chosen per model, column set and value types, not per
        value (see _writes._Row)."""
        return self.parser(value_type)

    # -- validation ----------------------------------------------------------------------

    def check(self, value: Any) -> list[str]:
        """Problems with ``value`` beyond its type (length, range, choices ...)."""
        problems: list[str] = []
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            problems.append(f"{value!r} is not one of the choices ({allowed})")
        for validator in self.validators:
            try:
                validator(value)
            except ValueError as exc:
                problems.append(str(exc))
        return problems

    def is_empty(self, value: Any) -> bool:
        return value is None


def _normalise_choices(choices: Any) -> tuple[Any, ...] | None:
    if choices is None:
        return None
    if isinstance(choices, type) and issubclass(choices, enum.Enum):
        return tuple(member.value for member in choices)
    return tuple(c[0] if isinstance(c, tuple | list) else c for c in choices)


def _server_default(value: Any) -> Any:
    import sqlalchemy as sa

    if isinstance(value, sa.sql.ClauseElement):
        return value
    if isinstance(value, bool):
        return sa.text("1" if value else "0")
    if isinstance(value, int | float | decimal.Decimal):
        return sa.text(str(value))
    if isinstance(value, str):
        return value  # SQLAlchemy quotes a str server default as a literal
    raise ModelDefinitionError(
        f"db_default must be a number, a string or a SQLAlchemy expression, not {value!r}"
    )


# -- integers --------------------------------------------------------------------------------


class IntegerField(Field[int]):
    """A 32-bit integer (``INTEGER``)."""

    python_type = int
    minimum: ClassVar[int] = -(2**31)
    maximum: ClassVar[int] = 2**31 - 1

    def sa_type(self) -> Any:
        import sqlalchemy as sa

        return sa.Integer()

    def check(self, value: Any) -> list[str]:
        problems = super().check(value)
        if isinstance(value, int) and not self.minimum <= value <= self.maximum:
            problems.append(f"must be between {self.minimum} and {self.maximum}")
        return problems

    def converters(self, backend: str) -> tuple[Converter, Converter]:
        return None, None


class SmallIntegerField(IntegerField):
    """A 16-bit integer (``SMALLINT``)."""

    minimum = -(2**15)
    maximum = 2**15 - 1

    def sa_type(self) -> Any:
        import sqlalchemy as sa

        return sa.SmallInteger()


class BigIntegerField(IntegerField):
    """A 64-bit integer (``BIGINT``)."""

    minimum = -(2**63)
    maximum = 2**63 - 1

    def sa_type(self) -> Any:
        import sqlalchemy as sa

        return sa.BigInteger()


class PositiveIntegerField(IntegerField):
    """An integer from 0 to 2**31 - 1."""

    minimum = 0


class PositiveSmallIntegerField(SmallIntegerField):
    """An integer from 0 to 2**15 - 1."""

    minimum = 0


class PositiveBigIntegerField(BigIntegerField):
    """An integer from 0 to 2**63 - 1."""

    minimum = 0


class AutoField(IntegerField):
    """An auto-incrementing integer primary key (the default ``id``)."""

    auto_increment = True

    def __new__(cls, **options: Unpack[FieldOptions]) -> Any:
        options.setdefault("primary_key", True)
        return super().__new__(cls, **options)


class BigAutoField(AutoField):
    """A 64-bit auto-incrementing primary key."""

    minimum = -(2**63)
    maximum = 2**63 - 1

    def sa_type(self) -> Any:
        import sqlalchemy as sa

        # SQLite auto-increments only an INTEGER PRIMARY KEY (which is 64-bit there).
        return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


# -- numbers -----------------------------------------------------------------------------------


class FloatField(Field[float]):
    """A double-precision float."""

    python_type = float

    def sa_type(self) -> Any:
        import sqlalchemy as sa

        # No converters on any backend.  On SQLite the column is DOUBLE, of REAL
        # affinity: a number written to it, an int or numeric text included, is read
        # back as a float (an integral one too: stored as an integer on disk, read as
        # REAL), so the float() per value the loaders ran there was an identity.  CPU
        # time of a 180-row values_list() of bench/orm.py's test 3 (four FloatFields)
        # on SQLite, timeit: 324 -> 310 us.
        return sa.Double()


class DecimalField(Field[decimal.Decimal]):
    """A fixed-point decimal: ``DecimalField(max_digits=12, decimal_places=2)``."""

    python_type = decimal.Decimal
    max_digits: int
    decimal_places: int

    def __new__(
        cls, *, max_digits: int, decimal_places: int, **options: Unpack[FieldOptions]
    ) -> Any:
        if not 0 <= decimal_places <= max_digits or max_digits < 1:
            raise ModelDefinitionError(
                f"DecimalField needs 0 <= decimal_places <= max_digits and max_digits >= 1 "
                f"(got max_digits={max_digits}, decimal_places={decimal_places})"
            )
        self = super().__new__(cls, **options)
        self.max_digits = max_digits
        self.decimal_places = decimal_places
        return self

    def sa_type(self) -> Any:
        import sqlalchemy as sa

        return sa.Numeric(self.max_digits, self.decimal_places)

    def check(self, value: Any) -> list[str]:
        problems = super().check(value)
        if isinstance(value, decimal.Decimal) and value.is_finite():
            _sign, digits, exponent = value.as_tuple()
            assert isinstance(exponent, int)
            places = max(0, -exponent)
            whole = len(digits) + exponent
            if places > self.decimal_places:
                problems.append(f"at most {self.decimal_places} decimal places")
            if max(whole, 0) > self.max_digits - self.decimal_places:
                problems.append(
                    f"at most {self.max_digits - self.decimal_places} digits before the point"
                )
        elif isinstance(value, decimal.Decimal):
            problems.append("must be a finite number")
        return problems

    def converters(self, backend: str) -> tuple[Converter, Converter]:
        if backend != "sqlite":
            return None, None
        return None, SQLiteDecimal(self.decimal_places)

    def write_parser(self, value_type: type) -> Converter:
        """Every value written is rounded to ``decimal_places`` and checked against
        ``max_digits`` here, a Decimal too, so that the three backends store the same
        digits: PostgreSQL and MySQL round half away from zero (0.125 -> 0.13) and refuse
        a value with too many digits (a DataError), where SQLite stored the float it
        was given (0.125, read back as 0.12) and any number of digits."""
        parse = self.parser(value_type)
        fit = decimal_fitter(self)
        if parse is None:
            return fit
        return lambda value: fit(parse(value))


def decimal_fitter(field: DecimalField) -> Callable[[Any], decimal.Decimal]:
    """A DecimalField's written value, rounded half away from zero to its places as
    PostgreSQL and MySQL round it; a ValidationError naming the field for one that
    keeps more than ``max_digits`` digits (999.995 with max_digits=5, decimal_places=2
    rounds to 1000.00) or is not finite."""
    where = f"{field.model.__name__}.{field.name}"
    places = field.decimal_places
    quantum = decimal.Decimal(1).scaleb(-places)
    # quantize() raises InvalidOperation when the result needs more than prec digits.
    context = decimal.Context(
        prec=field.max_digits, rounding=decimal.ROUND_HALF_UP, traps=[decimal.InvalidOperation]
    )
    whole = field.max_digits - places

    def fit(value: decimal.Decimal) -> decimal.Decimal:
        if value.is_finite():  # a NaN quantizes to NaN, without a signal
            try:
                return value.quantize(quantum, context=context)
            except decimal.InvalidOperation:
                problem = f"at most {whole} digits before the point"
        else:
            problem = "must be a finite number"
        raise ValidationError({where: [f"{problem}, got {_short(value)}"]})

    return fit


class SQLiteDecimal:
    """A DecimalField's from_db on SQLite, which keeps NUMERIC as REAL or INTEGER: back
    to a Decimal of the declared scale.  An object, not a closure, so the row loaders
    (_loader) can inline it with its ``quantum``."""

    __slots__ = ("quantum",)

    def __init__(self, decimal_places: int) -> None:
        self.quantum = decimal.Decimal(1).scaleb(-decimal_places)

    def __call__(self, value: Any) -> decimal.Decimal:
        return decimal.Decimal(repr(value)).quantize(self.quantum)


# -- text -----------------------------------------------------------------------------------------


class CharField(Field[str]):
    """A string of at most ``max_length`` characters (``VARCHAR``)."""

    python_type = str
    max_length: int

    def __new__(cls, *, max_length: int, **options: Unpack[FieldOptions]) -> Any:
        if not isinstance(max_length, int) or max_length < 1:
            raise ModelDefinitionError(f"CharField needs max_length >= 1, not {max_length!r}")
        self = super().__new__(cls, **options)
        self.max_length = max_length
        return self

    def sa_type(self) -> Any:
        import sqlalchemy as sa

        return sa.String(self.max_length)

    def check(self, value: Any) -> list[str]:
        problems = super().check(value)
        if isinstance(value, str) and len(value) > self.max_length:
            problems.append(f"at most {self.max_length} characters (got {len(value)})")
        return problems

    def is_empty(self, value: Any) -> bool:
        return value is None or value == ""


# Django's slug rules: ASCII letters, digits, "-" and "_" (allow_unicode: any letter or
# digit, Python's \w).  "$" is the end of the text, as JSON Schema (ECMA-262) reads it and
# vivace.schema checks it ("a-slug\n" is refused: vivace.schema._fields.python_pattern).
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
UNICODE_SLUG_PATTERN = r"^[-\w]+$"
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")
_UNICODE_SLUG = re.compile(r"[-\w]+")


class SlugField(CharField):
    """A short label for URLs: letters, digits, hyphens and underscores (Django's
    ``SlugField``: ``max_length`` 50, indexed unless ``db_index=False``;
    ``allow_unicode=True`` accepts any Unicode letter or digit, not only ASCII).

    Checked by ``full_clean()`` and the model's derived schemas (their JSON Schema
    carries the ``pattern``); a filter value is not checked (``slug="x y"`` finds
    nothing).
    """

    allow_unicode: bool

    def __new__(
        cls, *, max_length: int = 50, allow_unicode: bool = False, **options: Unpack[FieldOptions]
    ) -> Any:
        options.setdefault("db_index", True)
        self = super().__new__(cls, max_length=max_length, **options)
        self.allow_unicode = allow_unicode
        return self

    @property
    def pattern(self) -> str:
        return UNICODE_SLUG_PATTERN if self.allow_unicode else SLUG_PATTERN

    def check(self, value: Any) -> list[str]:
        problems = super().check(value)
        if isinstance(value, str) and value:
            regex, letters = (
                (_UNICODE_SLUG, "Unicode letters") if self.allow_unicode else (_SLUG, "letters")
            )
            if regex.fullmatch(value) is None:
                problems.append(
                    f"Enter a valid slug consisting of {letters}, numbers, underscores or hyphens."
                )
        return problems


class EmailField(CharField):
    """An email address (Django's ``EmailField``: ``max_length`` 254, and the addresses
    Django's ``EmailValidator`` accepts; see ``is_email``).

    Checked by ``full_clean()``; the model's derived schemas carry ``format: email``
    and a pattern for it.
    """

    def __new__(cls, *, max_length: int = 254, **options: Unpack[FieldOptions]) -> Any:
        return super().__new__(cls, max_length=max_length, **options)

    def check(self, value: Any) -> list[str]:
        problems = super().check(value)
        if isinstance(value, str) and value and not is_email(value):
            problems.append("Enter a valid email address.")
        return problems


# The addresses Django's EmailValidator accepts (Django 5.2), from the rules themselves:
# - the local part (before the last "@") is RFC 5322's dot-atom (atext, section 3.2.3,
#   in dot-separated runs) or quoted-string without folding white space (qtext and
#   quoted-pairs of section 3.2.4, their obsolete control characters included);
# - the domain is "localhost", or labels of letters, digits and inner hyphens (letters:
#   ASCII or any character from U+00A1 to U+FFFF, so an IDN passes unencoded; at most 63
#   each) ending in a top-level label of two or more letters and inner hyphens or a
#   punycode "xn--" label, or an IPv4/IPv6 literal in brackets (RFC 5321 section 4.1.3);
# - the whole is at most 320 characters (RFC 3696 section 3).
# One deviation: the local part is ASCII only, where Django's case-insensitive pattern
# lets the long s (U+017F) and the Kelvin sign (U+212A) through as "s" and "k".
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = f"{_ATEXT}+(?:\\.{_ATEXT}+)*"
_QUOTED = r'"(?:[\x01-\x08\x0b\x0c\x0e-\x1f!\x23-\x5b\x5d-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*"'
_LETTER = "A-Za-z\\u00a1-\\uffff"
_LABEL = f"[{_LETTER}0-9](?:[{_LETTER}0-9-]{{0,61}}[{_LETTER}0-9])?"
_TOP = f"(?:[{_LETTER}](?:[{_LETTER}-]{{0,61}}[{_LETTER}])|[Xx][Nn]--[A-Za-z0-9]{{1,59}})"
_HOSTNAME = f"{_LABEL}(?:\\.{_LABEL})*\\.{_TOP}"
_LOCAL = re.compile(f"{_DOT_ATOM}|{_QUOTED}")
_DOMAIN = re.compile(_HOSTNAME)
_LITERAL = re.compile(r"\[([0-9A-Fa-f:.]+)\]")
#: The derived schemas' pattern: the same rules but the literal's address check (and
#: the length, which max_length bounds); its "$" is read as SLUG_PATTERN's.
EMAIL_PATTERN = f"^(?:{_DOT_ATOM}|{_QUOTED})@(?:localhost|{_HOSTNAME}|\\[[0-9A-Fa-f:.]+\\])$"
MAX_EMAIL = 320
MAX_IPV6 = 39  # the longest IPv6 text Django reads ("ffff:...:ffff")


def is_email(value: str) -> bool:
    """Whether ``value`` is an address Django's EmailValidator accepts.

    >>> [is_email(v) for v in ("ada@example.com", '"a b"@example.com', "ada@localhost")]
    [True, False, True]
    >>> [is_email(v) for v in ("ada", "ada@example", "ada@-x.com", "a..b@example.com")]
    [False, False, False, False]
    """
    if not value or "@" not in value or len(value) > MAX_EMAIL:
        return False
    local, domain = value.rsplit("@", 1)
    if _LOCAL.fullmatch(local) is None:
        return False
    if domain == "localhost" or _DOMAIN.fullmatch(domain) is not None:
        return True
    literal = _LITERAL.fullmatch(domain)
    if literal is None:
        return False
    try:
        address = ipaddress.ip_address(literal[1])
    except ValueError:
        return False
    return address.version == 4 or len(literal[1]) <= MAX_IPV6


class TextField(Field[str]):
    """Text of any length (``TEXT``; ``LONGTEXT`` on MySQL)."""

    python_type = str

    def sa_type(self) -> Any:
        import sqlalchemy as sa
        from sqlalchemy.dialects import mysql

        return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

    def is_empty(self, value: Any) -> bool:
        return value is None or value == ""


# -- booleans, binary, UUID, JSON, enums ---------------------------------------------------------


class BooleanField(Field[bool]):
    """True or False."""

    python_type = bool

    def sa_type(self) -> Any:
        import sqlalchemy as sa

        return sa.Boolean()

    def converters(self, backend: str) -> tuple[Converter, Converter]:
        return None, (None if backend == "postgresql" else bool)


class BinaryField(Field[bytes]):
    """Raw bytes (``BYTEA``, ``LONGBLOB``, ``BLOB``)."""

    python_type = bytes

    def sa_type(self) -> Any:
        import sqlalchemy as sa
        from sqlalchemy.dialects import mysql

        return sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")

    def converters(self, backend: str) -> tuple[Converter, Converter]:
        return bytes, None


class UUIDField(Field[uuid.UUID]):
    """A UUID (native on PostgreSQL and MariaDB, 32 hex characters on SQLite)."""

    python_type = uuid.UUID

    def sa_type(self) -> Any:
        import sqlalchemy as sa

        return sa.Uuid()

    def converters(self, backend: str) -> tuple[Converter, Converter]:
        if backend == "postgresql":
            return None, None
        # vivace.db encodes exact uuid.UUID values for the dialect; subclasses (asyncpg's
        # UUID, say) are made plain first.
        return _plain_uuid, uuid.UUID


def _plain_uuid(value: Any) -> uuid.UUID:
    if type(value) is uuid.UUID:
        return value
    if isinstance(value, uuid.UUID):
        return uuid.UUID(int=value.int)
    return uuid.UUID(str(value))


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def json_loads_sqlite(value: Any) -> Any:
    # A JSON column has NUMERIC affinity in SQLite: the text of a number comes back as
    # that number, which is already the decoded value.
    return orjson.loads(value) if isinstance(value, str | bytes) else value


class JSONField(Field[Any]):
    """JSON data: dicts, lists, strings, numbers, booleans (``JSONB`` on PostgreSQL).

    ``None`` is stored as SQL NULL.  Query inside with key paths:
    ``filter(data__owner__name="Ada")``.
    """

    python_type = object

    def sa_type(self) -> Any:
        import sqlalchemy as sa
        from sqlalchemy.dialects import postgresql

        return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

    def converters(self, backend: str) -> tuple[Converter, Converter]:
        # Always sent as JSON text: a Python str must become a JSON string, and the
        # drivers take JSON text for JSON columns on every backend.
        if backend == "postgresql":
            return _json_dumps, None
        return _json_dumps, (json_loads_sqlite if backend == "sqlite" else orjson.loads)

    def check(self, value: Any) -> list[str]:
        problems = super().check(value)
        try:
            orjson.dumps(value)
        except TypeError as exc:
            problems.append(f"not JSON-serialisable: {exc}")
        return problems


class EnumField(Field[Any]):
    """An ``enum.Enum`` member, stored as its value (a string or an integer column).

    ``EnumField(Color)``; ``max_length`` defaults to the longest string value.
    """

    python_type = object

    enum_type: type[enum.Enum]
    integer: bool
    max_length: int

    def __new__(
        cls,
        enum_type: type[enum.Enum],
        *,
        max_length: int | None = None,
        **options: Unpack[FieldOptions],
    ) -> Any:
        if not (isinstance(enum_type, type) and issubclass(enum_type, enum.Enum)):
            raise ModelDefinitionError(f"EnumField needs an Enum class, not {enum_type!r}")
        values = [member.value for member in enum_type]
        if not values or not (
            all(isinstance(v, str) for v in values)
            or all(isinstance(v, int) and not isinstance(v, bool) for v in values)
        ):
            raise ModelDefinitionError(
                f"EnumField: {enum_type.__name__}'s values must be all strings or all integers"
            )
        self = super().__new__(cls, **options)
        self.enum_type = enum_type
        self.integer = isinstance(values[0], int)
        self.max_length = max_length or (0 if self.integer else max(len(str(v)) for v in values))
        self.python_type = enum_type
        return self

    def sa_type(self) -> Any:
        import sqlalchemy as sa

        return sa.Integer() if self.integer else sa.String(self.max_length)

    def converters(self, backend: str) -> tuple[Converter, Converter]:
        enum_type = self.enum_type

        def to_db(value: Any) -> Any:
            return value.value if isinstance(value, enum_type) else enum_type(value).value

        return to_db, enum_type

    def parser(self, value_type: type) -> Converter:
        """A value that is not a member becomes the member it is the value of (text of
        a number for an integer enum too); one that is none raises a ValidationError
        naming the field (it was a ValueError of the enum's from deep in the write or
        the query)."""
        enum_type = self.enum_type
        if issubclass(value_type, enum_type):
            return None
        where = f"{self.model.__name__}.{self.name}"
        integer = self.integer

        def parse(value: Any) -> Any:
            try:
                return enum_type(_to_int(value) if integer and isinstance(value, str) else value)
            except (ValueError, TypeError, ArithmeticError):
                message = f"expected {enum_type.__name__}, got {_short(value)}"
                raise ValidationError({where: [message]}) from None

        return parse


# -- dates and times ----------------------------------------------------------------------------


class DateField(Field[datetime.date]):
    """A date.  ``auto_now`` sets it on every save, ``auto_now_add`` on creation."""

    python_type = datetime.date
    auto_now: bool
    auto_now_add: bool

    def __new__(
        cls, *, auto_now: bool = False, auto_now_add: bool = False, **options: Unpack[FieldOptions]
    ) -> Any:
        self = super().__new__(cls, **options)
        self.auto_now = auto_now
        self.auto_now_add = auto_now_add
        if (auto_now or auto_now_add) and self.default is NOT_PROVIDED:
            self.default = self.now
        return self

    def now(self) -> Any:
        return utcnow().date()

    def sa_type(self) -> Any:
        import sqlalchemy as sa

        return sa.Date()

    def converters(self, backend: str) -> tuple[Converter, Converter]:
        return None, (datetime.date.fromisoformat if backend == "sqlite" else None)


class DateTimeField(DateField):
    """A date and time (naive; an aware value is stored as UTC).  Microseconds kept."""

    python_type = datetime.datetime

    def now(self) -> Any:
        return utcnow()

    def sa_type(self) -> Any:
        import sqlalchemy as sa
        from sqlalchemy.dialects import mysql

        return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

    def converters(self, backend: str) -> tuple[Converter, Converter]:
        return _naive_utc, (datetime.datetime.fromisoformat if backend == "sqlite" else None)


# -- filter values -----------------------------------------------------------------------


#: More digits than any integer column holds (BIGINT: 19).  int() of a Decimal such as
#: 1E+1000000 builds that million-digit integer: minutes of CPU for one filter value.
_MAX_INT_DIGITS = 100


def _to_int(value: Any) -> int:
    number = value if isinstance(value, decimal.Decimal) else _to_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    if number.adjusted() >= _MAX_INT_DIGITS:
        raise ValueError(f"{value!r} is out of range")
    return int(number)


def _to_decimal(value: Any) -> decimal.Decimal:
    return decimal.Decimal(value.strip() if isinstance(value, str) else repr(value))


_TRUE, _FALSE = (
    frozenset(("1", "true", "t", "yes", "on")),
    frozenset(("0", "false", "f", "no", "off")),
)


def _to_bool(value: Any) -> bool:
    key = value.strip().lower() if isinstance(value, str) else repr(value)
    if key in _TRUE or key in _FALSE:
        return key in _TRUE
    raise ValueError(f"{value!r} is not a boolean")


def _to_datetime(value: Any) -> datetime.datetime:
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value.strip())
    return datetime.datetime.combine(value, datetime.time())  # a date: its midnight


def _to_date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        # Its date, as Django's DateField takes it (an aware one's date in UTC, where
        # DateTimeField keeps it); the driver sent the whole datetime to a DATE column:
        # SQLite stored its text, which no longer read back as a date.
        return _naive_utc(value).date()  # type: ignore[no-any-return]
    return datetime.date.fromisoformat(value.strip())


def _to_time(value: Any) -> datetime.time:
    if isinstance(value, datetime.datetime):
        return value.time()  # as Django's TimeField takes it
    return datetime.time.fromisoformat(value.strip())


_NUMBER = r"\d{1,9}(?:[.,]\d{1,9})?"
#: ISO 8601 durations: P4DT1H15M20.5S, -P2W, PT90M.
_ISO_DURATION = re.compile(
    rf"(?P<sign>[-+]?)P(?:(?P<weeks>{_NUMBER})W)?(?:(?P<days>{_NUMBER})D)?"
    rf"(?:T(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?(?:(?P<seconds>{_NUMBER})S)?)?"
)
#: str(timedelta)'s days: "3 days, 4:05:06", "-1 day, 23:00:00" (PostgreSQL: no comma).
_DAYS = re.compile(r"(-?\d{1,9}) days?,? ")
_CLOCK_PART = re.compile(r"\d{1,9}")


def _to_timedelta(value: str) -> datetime.timedelta:
    """A duration's text as Django's DurationField reads it: ISO 8601, or
    ``[D day[s][,] ][-][[H:]M:]S[.ffffff]`` (what str(timedelta) writes)."""
    text = value.strip()
    iso = _ISO_DURATION.fullmatch(text)
    if iso is not None and text.lstrip("+-") != "P" and not text.endswith("T"):
        parts = {
            unit: float(amount.replace(",", "."))
            for unit, amount in iso.groupdict().items()
            if unit != "sign" and amount is not None
        }
        duration = datetime.timedelta(**parts)
        return -duration if iso["sign"] == "-" else duration
    days = 0
    found = _DAYS.match(text)
    if found is not None:
        days, text = int(found[1]), text[found.end() :]
    negative = text.startswith("-")
    clock = text[negative:].split(":")
    whole, _, fraction = clock[-1].partition(".")
    if len(clock) > 3 or not all(_CLOCK_PART.fullmatch(p) for p in (*clock[:-1], whole)):
        raise ValueError(f"{value!r} is not a duration")
    if fraction and not (fraction.isdigit() and len(fraction) <= 6):
        raise ValueError(f"{value!r} is not a duration")
    hours, minutes = ([0, 0] + [int(p) for p in clock[:-1]])[-2:]
    clock_time = datetime.timedelta(
        hours=hours,
        minutes=minutes,
        seconds=int(whole),
        microseconds=int(fraction.ljust(6, "0")) if fraction else 0,
    )
    return datetime.timedelta(days=days) + (-clock_time if negative else clock_time)


_NUMBERS = (int, float, decimal.Decimal)
#: A field's Python type -> the other value types a filter may give and their parser.
_PARSERS: dict[type, tuple[tuple[type, ...], Callable[[Any], Any]]] = {
    int: ((str, float, decimal.Decimal), _to_int),
    float: ((str, int, decimal.Decimal), float),
    decimal.Decimal: ((str, int, float), _to_decimal),
    str: ((*_NUMBERS, uuid.UUID), str),
    bool: ((str, int), _to_bool),
    uuid.UUID: ((str,), lambda value: uuid.UUID(value.strip())),
    bytes: ((bytearray, memoryview), bytes),
    datetime.datetime: ((str, datetime.date), _to_datetime),
    datetime.date: ((str, datetime.datetime), _to_date),
    datetime.time: ((str, datetime.datetime), _to_time),
    datetime.timedelta: ((str,), _to_timedelta),
}
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60


def _short(value: Any) -> str:
    """A value in an error message, cut short: it may be a client's 10 MB string."""
    return _REPR.repr(value)


def value_parser(field: Field[Any] | str, expected: type, value_type: type) -> Converter:
    """``Field.parser`` for a field whose values are ``expected`` (a relation passes its
    target's key type); ``field`` may be the name errors give (an annotation's)."""
    if expected is object or expected not in _PARSERS:
        return None
    if issubclass(value_type, expected) and not (
        # A datetime is a date subclass, but not a date's value: its time went too.
        expected is datetime.date and issubclass(value_type, datetime.datetime)
    ):
        return None
    where = field if isinstance(field, str) else f"{field.model.__name__}.{field.name}"
    accepted, parse = _PARSERS[expected]
    if not issubclass(value_type, accepted):
        raise ValidationError(
            {where: [f"expected {expected.__name__}, got a {value_type.__name__}"]}
        )

    def parser(value: Any) -> Any:
        try:
            return parse(value)
        except (ValueError, ArithmeticError) as exc:
            raise ValidationError(
                {where: [f"expected {expected.__name__}, got {_short(value)}"]}
            ) from exc

    return parser


def part_parser(field: Field[Any] | str, expected: type) -> Callable[[Any], Any]:
    """The parser of values compared with a date part of ``field`` (``published__year``:
    ``expected`` is int; ``__date``: date) or with an annotation (``field`` its name).
    Chosen per filter rather than per value type (such values are few), so it checks
    each value."""
    date = expected is datetime.date

    def parser(value: Any) -> Any:
        if isinstance(value, expected) and not (date and isinstance(value, datetime.datetime)):
            return value
        convert = value_parser(field, expected, type(value))
        return value if convert is None else convert(value)

    return parser


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


class TimeField(Field[datetime.time]):
    """A time of day (naive).  Microseconds kept."""

    python_type = datetime.time

    def sa_type(self) -> Any:
        import sqlalchemy as sa
        from sqlalchemy.dialects import mysql

        return sa.Time().with_variant(mysql.TIME(fsp=6), "mysql", "mariadb")

    def converters(self, backend: str) -> tuple[Converter, Converter]:
        if backend == "sqlite":
            return None, datetime.time.fromisoformat
        if backend == "mysql":
            return None, _time_from_delta
        return None, None


def _time_from_delta(value: Any) -> Any:
    # MySQL's TIME is an interval; the drivers return a timedelta.
    if isinstance(value, datetime.timedelta):
        micro = value // datetime.timedelta(microseconds=1)
        seconds, micro = divmod(micro, 1_000_000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        return datetime.time(hour, minute, second, micro)
    return value


class DurationField(Field[datetime.timedelta]):
    """A ``timedelta`` (``INTERVAL`` on PostgreSQL, microseconds as BIGINT elsewhere)."""

    python_type = datetime.timedelta

    def sa_type(self) -> Any:
        import sqlalchemy as sa
        from sqlalchemy.dialects import postgresql

        return sa.BigInteger().with_variant(postgresql.INTERVAL(), "postgresql")

    def converters(self, backend: str) -> tuple[Converter, Converter]:
        if backend == "postgresql":
            return None, None
        return _duration_to_micro, _duration_from_micro


def _duration_to_micro(value: Any) -> int:
    return int(value // datetime.timedelta(microseconds=1))


def _duration_from_micro(value: Any) -> datetime.timedelta:
    return datetime.timedelta(microseconds=int(value))
