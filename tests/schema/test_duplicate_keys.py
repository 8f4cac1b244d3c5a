"""The cheap proof that a JSON document repeats no key (_duplicates.surely_unique)
agrees with the scanner that finds the repeated key, on every document tried."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import random
import uuid
from typing import Annotated, Any, TypedDict

import pytest

from vivace.schema import Field, Schema, SchemaError, ValidationError, Validator, _duplicates
from vivace.schema._duplicates import surely_unique as _surely_unique


def repeats(doc: str) -> bool:
    found = False

    def hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        nonlocal found
        found = found or len({k for k, _ in pairs}) != len(pairs)
        return dict(pairs)

    json.loads(doc, object_pairs_hook=hook)
    return found


@pytest.mark.parametrize(
    ("doc", "unique"),
    [
        ('{"a": 1, "b": 2}', True),
        ('{"a": 1, "a": 2}', False),
        ('{"a": "x:y", "b": "::"}', True),
        ('{"x": "a", "x": "a:b:c", "y": 1}', False),
        ('{"x": "a:b:c", "x": "a"}', False),
        ('{"o": {"k": 1, "k": 1}}', False),
        ('[{"k": 1}, {"k": 1}]', True),
        ('{"a:b": 1, "a:b": 1}', False),
        ('"just: a string"', True),
        ("[1, 2.5e300, -0, true, null]", True),
        ('{"n": 123456789012345678901234567890}', True),
        ('{"n": 123456789012345678901234567890, "n": 1}', False),
        ('{"a": "line\\nbreak \\"q\\" x:y", "b": 1}', True),
        ('{"a": "line\\nbreak", "a": "x:y"}', False),
        # Deep nesting, with and without a repeated key at the bottom.
        ('{"k": ' * 300 + "1" + "}" * 300, True),
        ('{"k": ' * 300 + '{"d": 1, "d": 2}' + "}" * 300, False),
    ],
)
def test_the_proof_on_chosen_documents(doc: str, unique: bool) -> None:
    assert repeats(doc) is not unique
    if unique:
        assert _surely_unique(doc) and _surely_unique(doc.encode())
    else:
        assert not _surely_unique(doc) and not _surely_unique(doc.encode())


@pytest.mark.parametrize(
    "doc",
    [
        '{"a": 1, "\\u0061": 2}',
        '{"a": "\\u003a"}',
        '{"a": 1',
        '{"a": ' * 100_000 + "1" + "}" * 100_000,
    ],
)
def test_escapes_and_bad_documents_go_to_the_scanner(doc: str) -> None:
    assert not _surely_unique(doc.encode())


def test_the_proof_never_passes_a_repeated_key() -> None:
    rng = random.Random(16)
    keys = ["a", "b", "a:", ":", "é"]
    values = ['"x"', '"y:z"', "1", "[]", "null", '":"']

    def obj(depth: int) -> str:
        members = []
        for _ in range(rng.randrange(0, 4)):
            value = obj(depth + 1) if depth < 3 and rng.random() < 0.3 else rng.choice(values)
            members.append(f'"{rng.choice(keys)}": {value}')
        return "{" + ", ".join(members) + "}"

    for _ in range(3000):
        doc = obj(0)
        if _surely_unique(doc.encode()):
            assert not repeats(doc), doc
        else:
            assert repeats(doc) or ":" in doc.replace('": ', ""), doc


def test_a_repeated_key_is_still_refused() -> None:
    v = Validator(dict[str, int])
    with pytest.raises(ValidationError) as info:
        v.validate_json(b'{"a": 1, "b": 2, "a": 3}', duplicate_keys="error")
    assert info.value.errors()[0]["code"] == "duplicate_key"
    assert v.validate_json(b'{"a": 1, "b": 2}', duplicate_keys="error") == {"a": 1, "b": 2}


# --- the key proof of a type (_duplicates.key_proof) ---------------------------------------


class Colour(enum.Enum):
    RED = "red"


class Address(Schema):
    street: str
    city: str = ""


class Order(Schema):
    name: Annotated[str, Field(max_length=20)]
    count: int = 0
    price: float = 0.0
    flag: bool = False
    tags: list[str] = Field(default_factory=list)
    when: datetime.datetime | None = None
    ident: uuid.UUID | None = None
    amount: decimal.Decimal | None = None
    blob: bytes | None = None
    colour: Colour | None = None
    address: Address | None = None
    more: list[Address] = Field(default_factory=list)
    extra: dict[str, Address] = Field(default_factory=dict)
    anything: Any = None
    either: Address | int | None = None
    pair: tuple[int, Address] | None = None
    code: str = Field(default="", alias="the:code")


class Tree(Schema):
    label: str
    children: list[Tree] = Field(default_factory=list)


class Tagged(Schema, tag=True):
    x: int


class Row(Schema, array_like=True):
    a: int
    b: dict[str, int]


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Span(TypedDict, total=False):
    start: int
    end: Point


def proof_for(tp: Any) -> Any:
    v = Validator(tp)
    assert v.fast
    return v._proof


def test_the_key_proof_passes_unique_documents_of_its_type() -> None:
    docs = [
        b'{"name": "a"}',
        b'{"name": "a", "count": 3, "price": 1.5, "flag": true, "tags": ["x:y", "z"]}',
        b'{"name": "a", "when": "2026-01-02T03:04:05+01:00", "ident": '
        b'"12345678-1234-5678-1234-567812345678", "amount": "1.50", "blob": "YTpi", '
        b'"colour": "red"}',
        b'{"name": "a", "address": {"street": "1:2", "city": "x"}, "more": [{"street": "s"},'
        b' {"street": "t", "city": ":"}], "extra": {"k:": {"street": "u"}}}',
        b'{"name": "a", "anything": {"p": {"q": [1, {"r": ":"}]}}, "either": {"street": "v"}}',
        b'{"name": "a", "either": 3, "pair": [1, {"street": "w"}], "the:code": "c"}',
        b'{"name": "caf\\u00e9", "tags": ["\\u003a"], "address": {"\\u0073treet": "x"}}',
    ]
    proof = proof_for(Order)
    for doc in docs:
        Order.validate_json(doc)
        assert not repeats(doc.decode())
        # Order's dict, Any and "the:code" are read as decoded strings: a \\u escape there
        # goes to the scanner.
        assert proof(doc) is (b"\\u" not in doc), doc
    # Where the shape decodes no string, escapes are kept as they were sent.
    addresses = proof_for(list[Address])
    assert addresses(b'[{"\\u0073treet": "caf\\u00e9 \\u003a"}, {"street": "x"}]')
    assert not addresses(b'[{"street": "a", "\\u0073treet": "b"}]')


@pytest.mark.parametrize(
    "doc",
    [
        b'{"name": "a", "name": "b"}',
        b'{"name": "a", "count": 1, "count": 2}',
        b'{"name": "a", "n\\u0061me": "b"}',
        b'{"name": "a", "address": {"street": "x", "street": "y"}}',
        b'{"name": "a", "more": [{"street": "x"}, {"street": "x", "city": "", "city": ""}]}',
        b'{"name": "a", "extra": {"k": {"street": "x"}, "k": {"street": "y"}}}',
        b'{"name": "a", "extra": {":": {"street": "x"}, "\\u003a": {"street": "y"}}}',
        b'{"name": "a", "extra": {"\\u003a": {"street": "x"}, "a": {"street": "y"}, '
        b'"a": {"street": "z"}}}',
        b'{"name": "a", "anything": {"p": 1, "p": 2}}',
        b'{"name": "a", "either": {"street": "x", "street": "y"}}',
        b'{"name": "a", "pair": [1, {"street": "x", "street": "y"}]}',
        b'{"name": "a", "the:code": "x", "the\\u003acode": "y", "count": 1}',
    ],
)
def test_the_key_proof_never_passes_a_repeated_key(doc: bytes) -> None:
    assert repeats(doc.decode())
    assert not proof_for(Order)(doc)
    with pytest.raises(ValidationError) as info:
        Order.validate_json(doc, duplicate_keys="error")
    assert info.value.errors()[0]["code"] == "duplicate_key"


def test_an_unknown_key_goes_to_the_exact_check() -> None:
    # msgspec skips an unknown key; the shape refuses it, so it is counted by the scanner.
    for doc, repeated in [
        (b'{"name": "a", "other": 1}', False),
        (b'{"name": "a", "other": 1, "other": 2}', True),
        (b'{"name": "a", "other": {"k": 1, "k": 2}}', True),
    ]:
        assert not proof_for(Order)(doc)
        if repeated:
            with pytest.raises(ValidationError):
                Order.validate_json(doc, duplicate_keys="error")
        else:
            assert Order.validate_json(doc, duplicate_keys="error").name == "a"


def test_the_key_proof_of_other_classes_and_types() -> None:
    cases: list[tuple[Any, bytes, bool]] = [
        (Tree, b'{"label": "a", "children": [{"label": "b", "children": []}]}', True),
        (Tree, b'{"label": "a", "children": [{"label": "b", "label": "c"}]}', False),
        (Tagged, b'{"type": "Tagged", "x": 1}', True),
        (Tagged, b'{"type": "Tagged", "x": 1, "type": "Tagged"}', False),
        (Row, b'[1, {"k": 1}]', True),
        (Row, b'[1, {"k": 1, "k": 2}]', False),
        (Point, b'{"x": 1, "y": 2}', True),
        (Point, b'{"x": 1, "x": 2}', False),
        (Span, b'{"start": 1, "end": {"x": 1}}', True),
        (Span, b'{"start": 1, "end": {"x": 1, "x": 1}}', False),
        (list[Point], b'[{"x": 1}, {"x": 2, "y": 3}]', True),
        (list[Point], b'[{"x": 1}, {"x": 2, "y": 3, "y": 3}]', False),
        (dict[str, int], b'{"a": 1, "b": 2}', True),
        (dict[str, int], b'{"a": 1, "b": 2, "a": 3}', False),
        (dict[int, list[Point]], b'{"1": [{"x": 1}], "2": []}', True),
        (dict[int, list[Point]], b'{"1": [{"x": 1}], "1": []}', False),
        (list[int] | None, b"[1, 2]", True),
        (tuple[int, str], b'[1, "a:b"]', True),
    ]
    for tp, doc, unique in cases:
        assert repeats(doc.decode()) is not unique, doc
        v = Validator(tp)
        v.validate_json(doc)
        proof = v._proof
        if proof is None:
            assert tp is Row  # an array at the top: the colon proof's work
        else:
            assert proof(doc) is unique, (tp, doc)
        if unique:
            v.validate_json(doc, duplicate_keys="error")
        else:
            with pytest.raises(ValidationError) as info:
                v.validate_json(doc, duplicate_keys="error")
            assert info.value.errors()[0]["code"] == "duplicate_key"
    # A type with no object in it: a document it accepts has no key at all.
    assert proof_for(list[int])(b"[1, 2]")
    # Plain data at the top: the colon proof already is that proof.
    assert Validator(Any).fast and Validator(Any)._proof is None


def test_a_refused_document_is_checked_for_repeated_keys_first() -> None:
    with pytest.raises(ValidationError) as info:
        Order.validate_json(b'{"name": 1, "name": 2}', duplicate_keys="error")
    assert info.value.errors()[0]["code"] == "duplicate_key"
    with pytest.raises(ValidationError) as info:
        Order.validate_json(b'{"name": 1, "count": "x"}', duplicate_keys="error")
    assert {e["loc"] for e in info.value.errors()} == {("name",), ("count",)}
    with pytest.raises(ValidationError) as info:
        Order.validate_json(b'{"name": "a",', duplicate_keys="error")
    assert info.value.errors()[0]["code"] == "invalid_json"
    # bytearray and memoryview bodies take the same path as bytes.
    for wrap in (bytearray, memoryview):
        assert Order.validate_json(wrap(b'{"name": "a"}'), duplicate_keys="error").name == "a"
        with pytest.raises(ValidationError):
            Order.validate_json(wrap(b'{"name": "a", "name": "a"}'), duplicate_keys="error")


def test_the_key_proof_never_passes_a_repeated_key_at_random() -> None:
    rng = random.Random(17)
    proof = proof_for(Order)
    keys = ["street", "city", "str\\u0065et", "x"]
    dict_keys = ["k", ":", "\\u003a"]

    def address() -> str:
        members = [f'"{rng.choice(keys)}": "{rng.choice(["a", ":", "b:c"])}"' for _ in range(3)]
        return "{" + ", ".join(members) + "}"

    def order() -> str:
        members = ['"name": "n"']
        for _ in range(rng.randrange(0, 5)):
            key, value = rng.choice(
                [
                    ("count", "1"),
                    ("tags", '[":", "a"]'),
                    ("address", address()),
                    ("more", f"[{address()}]"),
                    ("extra", f'{{"{rng.choice(dict_keys)}": {address()}}}'),
                    ("anything", '{"a": 1, "a:": 2}'),
                    ("the:code", '"c"'),
                    ("the\\u003acode", '"d"'),
                    ("name", '"m"'),
                ]
            )
            members.append(f'"{key}": {value}')
        return "{" + ", ".join(members) + "}"

    passed = 0
    for _ in range(3000):
        doc = order()
        try:
            Order.validate_json(doc)
        except ValidationError:
            continue
        if proof(doc.encode()):
            passed += 1
            assert not repeats(doc), doc
    assert passed > 100


def test_text_documents_take_the_same_proof() -> None:
    proof = proof_for(Order)
    assert proof('{"name": "a", "address": {"street": "x:y"}}')
    assert not proof('{"name": "a", "address": {"street": "x", "street": "y"}}')
    assert Order.validate_json('{"name": "é:"}', duplicate_keys="error").name == "é:"


async def test_the_async_twin_refuses_the_same_documents() -> None:
    doc = b'{"name": "a", "more": [{"street": "x", "street": "y"}]}'
    assert (await Order.avalidate_json(doc)).more[0].street == "y"
    with pytest.raises(ValidationError) as info:
        await Order.avalidate_json(doc, duplicate_keys="error")
    assert info.value.errors()[0]["code"] == "duplicate_key"
    with pytest.raises(ValueError, match="duplicate_keys"):
        await Order.avalidate_json(doc, duplicate_keys="first")  # type: ignore[arg-type]


def test_a_shape_msgspec_refuses_leaves_the_colon_proof(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(self: Any, node: Any) -> Any:
        raise TypeError("not a type msgspec decodes")

    monkeypatch.setattr(_duplicates._Shape, "of", refused)
    v = Validator(list[Address])
    assert v.fast and v._proof is None
    with pytest.raises(ValidationError) as info:
        v.validate_json(b'[{"street": "x", "street": "y"}]', duplicate_keys="error")
    assert info.value.errors()[0]["code"] == "duplicate_key"
    assert v.validate_json(b'[{"street": "x"}]', duplicate_keys="error")[0].street == "x"


READER_DOCS = [
    b'{"name": "a", "count": 2, "address": {"street": "x:y"}}',
    b'{"name": "a", "count": 1, "count": 2}',
    b'{"name": "a", "address": {"street": "x", "street": "y"}}',
    b'{"name": "' + b"n" * 30 + b'"}',  # too long: the engine's errors
    b'{"name": "a", "count": "x", "count": 1}',  # refused and repeated: duplicate_key wins
    b"{not json",
    b"[]",
]


def outcome(read: Any, doc: Any) -> Any:
    try:
        return read(doc)
    except ValidationError as exc:
        return exc.errors()


@pytest.mark.parametrize("tp", [Order, dict[str, Any], list[Address]])
@pytest.mark.parametrize("duplicate_keys", ["last", "error"])
def test_json_reader_agrees_with_validate_json(tp: Any, duplicate_keys: Any) -> None:
    v = Validator(tp)
    read = Validator(tp).json_reader(duplicate_keys=duplicate_keys)  # compiles on its own
    for doc in READER_DOCS:
        for given in (doc, doc.decode(), bytearray(doc), memoryview(doc)):
            expected = outcome(lambda d: v.validate_json(d, duplicate_keys=duplicate_keys), given)
            assert outcome(read, given) == expected


def test_json_reader_options() -> None:
    with pytest.raises(ValueError, match="duplicate_keys"):
        Validator(Order).json_reader(duplicate_keys="first")  # type: ignore[arg-type]


def test_json_reader_of_a_schema_with_async_validators() -> None:
    from tests.schema.test_validators import Account

    for duplicate_keys in ("last", "error"):
        read = Validator(Account).json_reader(duplicate_keys=duplicate_keys)  # type: ignore[arg-type]
        with pytest.raises(SchemaError, match="avalidate"):
            read(b'{"email": "x@y.z"}')


# --- the count proof of a type (_duplicates.count_proof) -------------------------------------


class Line(Schema):
    sku: str
    qty: int = 1


class Invoice(Schema):
    number: str
    total: float
    paid: bool
    tags: list[str]
    customer: Address  # required: its required key is counted, its optional one looked for
    note: str | None = None
    lines: list[Line] = Field(default_factory=list)  # optional: present or not
    code: str = Field(default="", alias="the:code")


class Flat(Schema):
    a: int
    b: str
    c: list[int]


class Kind(Schema, tag=True):
    x: int


class Holder(Schema):
    kind: Kind
    at: datetime.date


@dataclasses.dataclass
class Box:
    point: Point
    label: str = ""


class Parts(TypedDict, total=False):
    a: int
    b: Point


class Looped(Schema):
    me: Looped  # required: no finite document has one


def counting(tp: Any) -> Any:
    v = Validator(tp)
    assert v.fast
    return _duplicates.count_proof(v._fast)


def colons(doc: bytes) -> int:
    return doc.count(b":")


def assert_decided(tp: Any, doc: bytes, unique: bool) -> None:
    """The whole reader refuses ``doc`` for a repeated key exactly when it has one."""
    if unique:
        assert tp.validate_json(doc, duplicate_keys="error")
    else:
        with pytest.raises(ValidationError) as info:
            tp.validate_json(doc, duplicate_keys="error")
        assert info.value.errors()[0]["code"] == "duplicate_key"


def test_the_count_proof_passes_unique_documents_without_a_colon_in_a_string() -> None:
    proof = counting(Invoice)
    for doc in [
        b'{"number": "1", "total": 2.5, "paid": true, "tags": [], "customer": {"street": "s"}}',
        b'{"number": "1", "total": 2.5, "paid": true, "tags": ["a"], "customer": {"street": "s",'
        b' "city": "c"}, "note": null, "lines": []}',
        b'{"n\\u0075mber": "1", "total": 2.5, "paid": true, "tags": [], "customer": '
        b'{"street": "s"}, "note": "\\u003a"}',
    ]:
        Invoice.validate_json(doc)
        assert not repeats(doc.decode())
        assert proof(doc, colons(doc)), doc
    # Flat's keys are all required: the count alone decides, with no decode.
    flat = counting(Flat)
    assert flat(b'{"a": 1, "b": "x", "c": [1]}', 3)
    assert not flat(b'{"a": 1, "b": "x:y", "c": [1]}', 4)


@pytest.mark.parametrize(
    "doc",
    [
        # A repeated key is never passed.
        b'{"number": "1", "number": "2", "total": 2.5, "paid": true, "tags": [], '
        b'"customer": {"street": "s"}}',
        b'{"number": "1", "total": 2.5, "paid": true, "tags": [], "customer": {"street": "s",'
        b' "street": "t"}}',
        b'{"number": "1", "total": 2.5, "paid": true, "tags": [], "customer": {"street": "s"},'
        b' "note": null, "note": "x"}',
        b'{"number": "1", "n\\u0075mber": "2", "total": 2.5, "paid": true, "tags": [], '
        b'"customer": {"street": "s"}}',
        b'{"number": "1", "total": 2.5, "paid": true, "tags": [], "customer": {"street": "s",'
        b' "city": "a", "city": "b"}}',
        # Unique, but the count cannot tell: left to the key proof.
        b'{"number": "1:2", "total": 2.5, "paid": true, "tags": [], "customer": {"street": "s"}}',
        b'{"number": "1", "total": 2.5, "paid": true, "tags": [], "customer": {"street": "s"},'
        b' "lines": [{"sku": "a"}]}',
        b'{"number": "1", "total": 2.5, "paid": true, "tags": [], "customer": {"street": "s"},'
        b' "other": 1}',
        b'{"number": "1", "total": 2.5, "paid": true, "tags": [], "customer": {"street": "s"},'
        b' "the:code": "x"}',
    ],
)
def test_the_count_proof_looks_where_it_cannot_count(doc: bytes) -> None:
    Invoice.validate_json(doc)
    assert not counting(Invoice)(doc, colons(doc))
    # The whole proof still decides each exactly.
    unique = not repeats(doc.decode())
    assert outcome(Validator(Invoice).json_reader(duplicate_keys="error"), doc) != [] or unique
    assert_decided(Invoice, doc, unique)


def test_the_count_proof_of_other_classes_and_where_it_does_not_apply() -> None:
    cases: list[tuple[Any, bytes, bool]] = [
        (Holder, b'{"kind": {"x": 1}, "at": "2026-01-01"}', True),
        (Holder, b'{"kind": {"type": "Kind", "x": 1}, "at": "2026-01-01"}', True),
        (Holder, b'{"kind": {"type": "Kind", "x": 1, "type": "Kind"}, "at": "2026-01-01"}', False),
        (Box, b'{"point": {"x": 1, "y": 2}, "label": "b"}', True),
        (Box, b'{"point": {"x": 1, "x": 2}}', False),
        (Parts, b'{"a": 1, "b": {"x": 1}}', False),  # an object in an optional value: look
        (Parts, b'{"a": 1}', True),
        (Parts, b'{"a": 1, "a": 2}', False),
    ]
    for tp, doc, passed in cases:
        Validator(tp).validate_json(doc)
        assert counting(tp)(doc, colons(doc)) is passed, (tp, doc)
        if passed:
            assert not repeats(doc.decode())
    # Where it does not apply: not an object at the top, or a required value whose objects'
    # keys it cannot know, or a class that requires itself.
    assert counting(list[Address]) is None
    assert counting(Tree) is not None  # children is optional
    assert counting(Row) is None  # a class read from an array
    assert _duplicates.count_proof(Looped) is None

    class Bag(Schema):
        items: dict[str, int]

    class Many(Schema):
        lines: list[Line]

    class Whatever(Schema):
        value: Any

    for tp in (Bag, Many, Whatever):
        assert counting(tp) is None and proof_for(tp) is not None  # the key proof alone
    # A document the shape cannot read (not one of the type's): left to the key proof.
    assert not counting(Invoice)(b"[1]", 0)


def test_the_count_proof_never_passes_a_repeated_key_at_random() -> None:
    rng = random.Random(18)
    proof = proof_for(Invoice)
    count = counting(Invoice)
    keys = {
        "number": ['"1"', '"a:b"'],
        "n\\u0075mber": ['"2"'],
        "total": ["1.5"],
        "paid": ["true"],
        "tags": ["[]", '["x", ":"]'],
        "note": ["null", '"n"', '"\\u003a"'],
        "lines": ["[]", '[{"sku": "s"}]', '[{"sku": "s", "sku": "t"}]'],
        "other": ["1", '{"k": 1, "k": 2}'],
        "the:code": ['"c"'],
    }
    customer_keys = {"street": ['"s"', '"s:t"'], "str\\u0065et": ['"u"'], "city": ['"c"']}

    def members(choices: dict[str, list[str]], required: list[str], extra: int) -> str:
        names = required + [rng.choice(list(choices)) for _ in range(rng.randrange(0, extra))]
        rng.shuffle(names)
        return ", ".join(f'"{n}": {rng.choice(choices[n])}' for n in names)

    passed = counted = 0
    for _ in range(4000):
        customer = "{" + members(customer_keys, ["street"], 3) + "}"
        keys["customer"] = [customer]
        doc = "{" + members(keys, ["number", "total", "paid", "tags", "customer"], 4) + "}"
        try:
            Invoice.validate_json(doc)
        except ValidationError:
            continue
        data = doc.encode()
        if count(data, colons(data)):
            counted += 1
            assert not repeats(doc), doc
        if proof(data):
            passed += 1
            assert not repeats(doc), doc
    assert counted > 50 and passed > counted


# --- the count proof with its optional keys found by a text search (_duplicates._searched) --


class Parcel(Schema):
    sender: str
    weight: float
    box: Address  # required: "street" counted, "city" (optional) searched for
    coupon: str | None = None
    promo: str = "none"


def fast_of(tp: Any) -> Any:
    v = Validator(tp)
    assert v.fast
    return v._fast


def searching(tp: Any) -> Any:
    plan = _duplicates._plan_of(fast_of(tp))
    assert plan is not None and _duplicates._searchable(plan)
    return _duplicates.typed_proof(Validator(tp).node, fast_of(tp))


def test_few_plain_optional_keys_are_searched_for_and_others_decoded() -> None:
    searching(Parcel)
    searching(Holder)  # a class's tag
    searching(Box)
    searching(Parts)

    def searchable(tp: Any) -> bool:
        plan = _duplicates._plan_of(fast_of(tp))
        return plan is not None and _duplicates._searchable(plan)

    class Four(Schema):
        a: int = 0
        b: int = 0
        c: int = 0
        d: int = 0

    class Inner(Schema):
        note: str  # required here...

    class Outer(Schema):
        inner: Inner
        note: str = ""  # ...optional here: a "note" found could be Inner's

    Quoted = TypedDict("Quoted", {'b"': int, "c\\": int}, total=False)

    class Spaced(Schema):
        a: int
        b: int = Field(default=0, alias=" b")

    class Closing(Schema):
        a: int
        b: int = Field(default=0, alias="]b")

    assert not searchable(Invoice)  # four optional keys: the shape
    for tp in (Four, Outer, Quoted, Spaced, Closing):
        assert not searchable(tp), tp
    # Where nothing is optional there is nothing to search: the count alone.
    assert not searchable(Flat)


# (document, whether the searched count alone passes it); the whole proof and the
# validator are checked against the standard library's scanner.
@pytest.mark.parametrize(
    ("doc", "counted"),
    [
        (b'{"sender": "a", "weight": 1.5, "box": {"street": "s"}}', True),
        (b'{"sender": "a", "weight": 1.5, "box": {"street": "s"}, "coupon": null}', True),
        (
            b'{"sender": "a", "weight": 1.5, "box": {"street": "s", "city": "c"}, "promo": "p",'
            b' "coupon": "c"}',
            True,
        ),
        (b'{"coupon":null,"sender":"a","weight":1.5,"box":{"city":"c","street":"s"}}', True),
        (b'{"sender": "a\\\\", "weight": 1.5, "box": {"street": "s"}, "coupon": "c"}', True),
        # Repeated keys: never passed.
        (b'{"sender": "a", "sender": "b", "weight": 1.5, "box": {"street": "s"}}', False),
        (
            b'{"sender": "a", "weight": 1.5, "box": {"street": "s"}, "coupon": "x", "coupon": "y"}',
            False,
        ),
        (
            b'{"sender": "a", "weight": 1.5, "box": {"street": "s", "city": "a", "city": "b"}}',
            False,
        ),
        # The name as a value, or in a string after an escaped quote: not a key.
        (b'{"sender": "coupon", "sender": "b", "weight": 1.5, "box": {"street": "s"}}', False),
        (
            b'{"sender": "\\"coupon\\":", "sender": "b", "weight": 1.5, "box": {"street": "s"}}',
            False,
        ),
        (b'{"sender": "say \\"coupon\\": x", "weight": 1.5, "box": {"street": "s"}}', False),
        # Found once however often it is sent; an unknown key is one more member.
        (
            b'{"sender": "a", "weight": 1.5, "box": {"street": "s", "coupon": "c"}, "coupon": "c"}',
            False,
        ),
        (b'{"sender": "a", "weight": 1.5, "box": {"street": "s"}, "other": {"coupon": 1}}', False),
        # Sent escaped, or with a space before its colon: not found (the key proof decides).
        (b'{"sender": "a", "weight": 1.5, "box": {"street": "s"}, "c\\u006fupon": "c"}', False),
        (b'{"sender": "a", "weight": 1.5, "box": {"street": "s"}, "coupon" : "c"}', False),
    ],
)
def test_the_searched_proof_on_chosen_documents(doc: bytes, counted: bool) -> None:
    Parcel.validate_json(doc)
    unique = not repeats(doc.decode())
    plan = _duplicates._plan_of(fast_of(Parcel))
    assert plan is not None
    alone = _duplicates._searched(plan, None)
    assert alone(doc) is counted and alone(doc.decode()) is counted
    assert unique or not counted
    proof = searching(Parcel)
    assert unique or not (proof(doc) or proof(doc.decode()))
    assert_decided(Parcel, doc, unique)


def test_the_searched_count_decides_the_usual_documents_alone() -> None:
    plan = _duplicates._plan_of(fast_of(Parcel))
    assert plan is not None
    alone = _duplicates._searched(plan, None)
    for doc in [
        b'{"sender": "a", "weight": 1.5, "box": {"street": "s"}}',
        b'{"sender": "a", "weight": 1.5, "box": {"street": "s", "city": "c"}, "coupon": null}',
        b'{"sender":"a","weight":1.5,"box":{"street":"s"},"promo":"p","coupon":"c"}',
    ]:
        assert alone(doc) and alone(doc.decode()), doc


def test_the_searched_proof_never_passes_a_repeated_key_at_random() -> None:
    rng = random.Random(19)
    proof = searching(Parcel)
    plan = _duplicates._plan_of(fast_of(Parcel))
    alone = _duplicates._searched(plan, None)
    strings = ['"coupon"', '"\\"coupon\\":"', '"a:b"', '"\\\\"', '"promo"', '"x\\\\\\"city\\":"']
    keys = {
        "sender": strings,
        "weight": ["1.5"],
        "coupon": ["null", *strings],
        "c\\u006fupon": ['"c"'],
        "promo": strings,
        "other": ["1", '{"coupon": 1}', '{"city": "c", "city": "d"}', '["coupon"]'],
    }
    box_keys = {"street": strings, "city": strings, "coupon": ['"c"'], "str\\u0065et": ['"u"']}

    def members(choices: dict[str, list[str]], required: list[str], extra: int) -> str:
        names = required + [rng.choice(list(choices)) for _ in range(rng.randrange(0, extra))]
        rng.shuffle(names)
        sep = rng.choice([": ", ":", " : "])
        return ", ".join(f'"{n}"{sep}{rng.choice(choices[n])}' for n in names)

    passed = counted = 0
    for _ in range(4000):
        keys["box"] = ["{" + members(box_keys, ["street"], 3) + "}"]
        doc = "{" + members(keys, ["sender", "weight", "box"], 4) + "}"
        try:
            Parcel.validate_json(doc)
        except ValidationError:
            continue
        for text in (doc, doc.encode()):
            if alone(text):
                counted += 1
                assert not repeats(doc), doc
            if proof(text):
                passed += 1
                assert not repeats(doc), doc
    assert counted > 200 and passed > counted


def test_a_typed_dict_with_keys_a_struct_cannot_have_is_read_and_checked() -> None:
    # Such keys made the count proof's shape fail, and every validator of the type with it.
    odd = TypedDict("odd", {'b"': int, "c\\\\": int, "a": int}, total=False)
    for duplicate_keys in ("last", "error"):
        assert Validator(odd).validate_json(
            b'{"a": 1, "b\\"": 2}', duplicate_keys=duplicate_keys
        ) == {"a": 1, 'b"': 2}
    with pytest.raises(ValidationError, match="Duplicate key"):
        Validator(odd).validate_json(b'{"a": 1, "a": 2}', duplicate_keys="error")
    with pytest.raises(ValidationError, match="Duplicate key"):
        Validator(odd).validate_json(b'{"b\\"": 1, "b\\"": 2}', duplicate_keys="error")


def test_a_searched_key_right_after_an_escaped_quote_is_not_counted() -> None:
    # A required key may end in the optional key's quoted name: found right after its
    # backslash, it would be counted as the optional key (a bound one too high).
    from typing import NotRequired

    tricky = TypedDict("tricky", {'a"coupon': int, "coupon": NotRequired[int]})
    plan = _duplicates._plan_of(fast_of(tricky))
    assert plan is not None and _duplicates._searchable(plan)
    doc = b'{"a\\"coupon": 1, "a\\"coupon": 2}'
    assert repeats(doc.decode())
    with pytest.raises(ValidationError, match="Duplicate key"):
        Validator(tricky).validate_json(doc, duplicate_keys="error")
    assert Validator(tricky).validate_json(
        b'{"a\\"coupon": 1, "coupon": 2}', duplicate_keys="error"
    )
