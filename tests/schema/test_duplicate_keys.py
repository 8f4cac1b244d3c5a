"""The cheap proof that a JSON document repeats no key (_validator._surely_unique)
agrees with the scanner that finds the repeated key, on every document tried."""

import json
import random

import pytest

from vivace.schema import ValidationError, Validator
from vivace.schema._validator import _surely_unique


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
