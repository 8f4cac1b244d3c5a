"""vivace.schema against pydantic v2, msgspec, attrs+cattrs and mashumaro.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/schema.py [--rounds 7] [--size 1000]

The workload is the one of msgspec's validation benchmark (benchmarks/bench_validation in
the msgspec repository), re-implemented here: a tree of ``--size`` File/Directory nodes, a
tagged union of the two, an enum and timezone-aware datetimes, a quarter of the nodes with
the optional ``updated_by``/``updated_at``. Each library declares the two classes in its own
idiom with defaults left out of the output, as that benchmark does.

Measured, interleaved round by round (A, B, C, ... then again), medians of the rounds:

- decode: JSON bytes -> validated objects; encode: objects -> JSON bytes; total = both;
- dict: the same tree as Python dicts (decoded once, not timed; no library changes its
  input) -> validated objects (what forms and the ORM do);
- define: creating the two classes; define+first: that and validating a small document
  (libraries that compile lazily pay there);
- errors: a 200-node tree with 50 ``nbytes`` values that are strings: time to the
  error, and how many errors each library reports.

Times are microseconds per operation: wall-clock (perf_counter) and CPU (process_time).
Ratios are the library's time over vivace.schema's (above 1.00x: vivace is faster).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import enum
import gc
import importlib.metadata
import itertools
import random
import statistics
import string
import sys
import time
import types
from collections.abc import Callable
from typing import Any

import cattrs
import cattrs.preconf.orjson
import msgspec
import orjson
import pydantic

from vivace.schema import ValidationError

UTC = datetime.UTC
USERS = ["ada", "bo", "cyd", "dee", "eli", "fay", "gus", "hal", "ivy", "jo", "kim", "lu"]


def make_tree(size: int, seed: int = 42) -> dict[str, Any]:
    """``size`` nodes: a root directory and nodes placed under random directories."""
    rnd = random.Random(seed)
    lo = int(datetime.datetime(2018, 1, 1, tzinfo=UTC).timestamp())
    hi = int(datetime.datetime(2023, 1, 1, tzinfo=UTC).timestamp())

    def when(after: int) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(rnd.randint(after, hi), UTC)

    def node(is_dir: bool) -> dict[str, Any]:
        made = when(lo)
        out: dict[str, Any] = {
            "type": "directory" if is_dir else "file",
            "name": "".join(rnd.choices(string.ascii_letters, k=rnd.randint(4, 30))),
            "created_by": rnd.choice(USERS),
            "created_at": made.isoformat(),
        }
        if rnd.random() < 0.25:
            out["updated_by"] = rnd.choice(USERS)
            out["updated_at"] = when(int(made.timestamp())).isoformat()
        if is_dir:
            out["contents"] = []
        else:
            out["nbytes"] = rnd.randint(0, 1_000_000)
            out["permissions"] = rnd.choice(["READ", "WRITE", "READ_WRITE"])
        return out

    root = node(True)
    dirs = [root]
    for _ in range(size - 1):
        child = node(rnd.random() < 0.2)
        rnd.choice(dirs)["contents"].append(child)
        if child["type"] == "directory":
            dirs.append(child)
    return root


def same_tree(a: Any, b: Any, tags: bool = True) -> bool:
    """Equal documents, reading "Z" and "+00:00" as the same UTC offset; with
    ``tags=False``, ``a`` may lack the "type" keys (the tag) that ``b`` has."""
    if isinstance(a, dict) and isinstance(b, dict):
        a_keys, b_keys = set(a), set(b)
        if not tags:
            a_keys.discard("type")
            b_keys.discard("type")
        return a_keys == b_keys and all(same_tree(a[k], b[k], tags) for k in a_keys)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_tree(x, y, tags) for x, y in zip(a, b, strict=True))
    if isinstance(a, str) and isinstance(b, str):
        return a.replace("+00:00", "Z") == b.replace("+00:00", "Z")
    return bool(a == b)


def failing_tree(errors: int) -> dict[str, Any]:
    tree = make_tree(200, seed=7)
    files: list[dict[str, Any]] = []

    def walk(n: dict[str, Any]) -> None:
        for c in n.get("contents", ()):
            (files.append(c) if c["type"] == "file" else walk(c))

    walk(tree)
    for f in files[:errors]:
        f["nbytes"] = "many"  # a type error every library detects
    assert len(files) >= errors
    return tree


class Permissions(enum.Enum):
    READ = "READ"
    WRITE = "WRITE"
    READ_WRITE = "READ_WRITE"


# --- each library, in its own idiom ----------------------------------------------------------
#
# Each library's classes are written as module source and executed into a fresh module
# per definition (the code object is compiled once), so every library resolves its names
# the way it does for classes defined at module level, and "define" times class creation.

_COMMON = """
from __future__ import annotations
import datetime
from typing import Annotated, Literal
"""

VIVACE_SRC = (
    _COMMON
    + """
from vivace.schema import Field, Schema

class File(Schema, tag="file", omit_defaults=True):
    name: str
    created_by: str
    created_at: datetime.datetime
    updated_by: str | None = None
    updated_at: datetime.datetime | None = None
    nbytes: Annotated[int, Field(ge=0)]
    permissions: Permissions

class Directory(Schema, tag="directory", omit_defaults=True):
    name: str
    created_by: str
    created_at: datetime.datetime
    updated_by: str | None = None
    updated_at: datetime.datetime | None = None
    contents: list[File | Directory]
"""
)

PYDANTIC_SRC = (
    _COMMON
    + """
import pydantic

class File(pydantic.BaseModel):
    type: Literal["file"] = "file"
    name: str
    created_by: str
    created_at: datetime.datetime
    updated_by: str | None = None
    updated_at: datetime.datetime | None = None
    nbytes: Annotated[int, pydantic.Field(ge=0)]
    permissions: Permissions

class Directory(pydantic.BaseModel):
    type: Literal["directory"] = "directory"
    name: str
    created_by: str
    created_at: datetime.datetime
    updated_by: str | None = None
    updated_at: datetime.datetime | None = None
    contents: list[Annotated[File | Directory, pydantic.Field(discriminator="type")]]
"""
)

MSGSPEC_SRC = (
    _COMMON
    + """
import msgspec

class File(msgspec.Struct, kw_only=True, omit_defaults=True, tag="file"):
    name: str
    created_by: str
    created_at: datetime.datetime
    updated_by: str | None = None
    updated_at: datetime.datetime | None = None
    nbytes: Annotated[int, msgspec.Meta(ge=0)]
    permissions: Permissions

class Directory(msgspec.Struct, kw_only=True, omit_defaults=True, tag="directory"):
    name: str
    created_by: str
    created_at: datetime.datetime
    updated_by: str | None = None
    updated_at: datetime.datetime | None = None
    contents: list[File | Directory]
"""
)

CATTRS_SRC = (
    _COMMON
    + """
import attrs

@attrs.define(kw_only=True)
class File:
    name: str
    created_by: str
    created_at: datetime.datetime
    updated_by: str | None = None
    updated_at: datetime.datetime | None = None
    nbytes: int = attrs.field(validator=attrs.validators.ge(0))
    permissions: Permissions
    type: Literal["file"] = "file"

@attrs.define(kw_only=True)
class Directory:
    name: str
    created_by: str
    created_at: datetime.datetime
    updated_by: str | None = None
    updated_at: datetime.datetime | None = None
    contents: list[File | Directory]
    type: Literal["directory"] = "directory"
"""
)

MASHUMARO_SRC = (
    _COMMON
    + """
import dataclasses
from mashumaro.config import BaseConfig
from mashumaro.mixins.orjson import DataClassORJSONMixin

@dataclasses.dataclass(kw_only=True)
class File(DataClassORJSONMixin):
    name: str
    created_by: str
    created_at: datetime.datetime
    updated_by: str | None = None
    updated_at: datetime.datetime | None = None
    nbytes: int
    permissions: Permissions
    type: Literal["file"] = "file"

    class Config(BaseConfig):
        omit_default = True
        lazy_compilation = True

@dataclasses.dataclass(kw_only=True)
class Directory(DataClassORJSONMixin):
    name: str
    created_by: str
    created_at: datetime.datetime
    updated_by: str | None = None
    updated_at: datetime.datetime | None = None
    contents: list[File | Directory]
    type: Literal["directory"] = "directory"

    class Config(BaseConfig):
        omit_default = True
        lazy_compilation = True
"""
)

_MODULES = itertools.count()


def definer(source: str, tag: str) -> Callable[[], Any]:
    code = compile(source, f"<bench {tag} classes>", "exec")

    def define() -> Any:
        name = f"bench_{tag}_{next(_MODULES)}"
        module = types.ModuleType(name)
        module.Permissions = Permissions  # type: ignore[attr-defined]
        sys.modules[name] = module
        exec(code, module.__dict__)
        return module.Directory

    return define


@dataclasses.dataclass
class Lib:
    label: str
    define: Callable[[], Any]  # -> the Directory class
    decode: Callable[[Any, bytes], Any]
    encode: Callable[[Any, Any], bytes]
    from_dict: Callable[[Any, dict[str, Any]], Any]
    count_errors: Callable[[Exception], int]
    cls: Any = None
    note: str = ""


def vivace_lib() -> Lib:
    def count(exc: Exception) -> int:
        return len(exc.errors()) if isinstance(exc, ValidationError) else -1

    return Lib(
        "vivace.schema",
        definer(VIVACE_SRC, "vivace"),
        lambda cls, data: cls.validate_json(data),
        lambda cls, obj: obj.dump_json(),
        lambda cls, data: cls.validate(data),
        count,
    )


def pydantic_lib() -> Lib:
    def count(exc: Exception) -> int:
        return exc.error_count() if isinstance(exc, pydantic.ValidationError) else -1

    return Lib(
        f"pydantic {pydantic.VERSION}",
        definer(PYDANTIC_SRC, "pydantic"),
        lambda cls, data: cls.model_validate_json(data),
        lambda cls, obj: obj.model_dump_json(exclude_defaults=True),
        lambda cls, data: cls.model_validate(data),
        count,
    )


def msgspec_lib() -> Lib:
    encoder = msgspec.json.Encoder()
    decoders: dict[Any, Any] = {}

    def decode(cls: Any, data: bytes) -> Any:
        # One Decoder per class, made on first use (as an application keeps one).
        dec = decoders.get(cls)
        if dec is None:
            dec = decoders[cls] = msgspec.json.Decoder(cls)
        return dec.decode(data)

    def count(exc: Exception) -> int:
        return 1 if isinstance(exc, msgspec.ValidationError) else -1

    return Lib(
        f"msgspec {msgspec.__version__}",
        definer(MSGSPEC_SRC, "msgspec"),
        decode,
        lambda cls, obj: encoder.encode(obj),
        lambda cls, data: msgspec.convert(data, cls),
        count,
    )


def cattrs_lib() -> Lib:
    converter = cattrs.preconf.orjson.make_converter(omit_if_default=True)

    def count(exc: Exception) -> int:
        if isinstance(exc, cattrs.BaseValidationError):
            n = 0
            stack: list[BaseException] = [exc]
            while stack:
                e = stack.pop()
                if isinstance(e, cattrs.BaseValidationError):
                    stack.extend(e.exceptions)
                else:
                    n += 1
            return n
        return 1 if isinstance(exc, ValueError | TypeError | KeyError) else -1

    return Lib(
        f"cattrs {importlib.metadata.version('cattrs')}",
        definer(CATTRS_SRC, "cattrs"),
        lambda cls, data: converter.loads(data, cls),
        lambda cls, obj: converter.dumps(obj),
        lambda cls, data: converter.structure(data, cls),
        count,
    )


def mashumaro_lib() -> Lib:
    return Lib(
        f"mashumaro {importlib.metadata.version('mashumaro')}",
        definer(MASHUMARO_SRC, "mashumaro"),
        lambda cls, data: cls.from_json(data),
        lambda cls, obj: obj.to_json(),
        lambda cls, data: cls.from_dict(data),
        lambda exc: 1,
    )


LIBS = [vivace_lib, pydantic_lib, msgspec_lib, cattrs_lib, mashumaro_lib]


# --- measuring ------------------------------------------------------------------------------


def per_op(fn: Callable[[], Any], number: int) -> tuple[float, float]:
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(number):
        fn()
    w1, c1 = time.perf_counter(), time.process_time()
    return (w1 - w0) / number * 1e6, (c1 - c0) / number * 1e6


def raising(fn: Callable[[], Any]) -> Callable[[], Exception]:
    def run() -> Exception:
        try:
            fn()
        except Exception as exc:
            return exc
        raise AssertionError("the failing input was accepted")

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--errors", type=int, default=50)
    args = parser.parse_args()

    tree = make_tree(args.size)
    doc = orjson.dumps(tree)
    small = orjson.dumps(make_tree(5))
    bad = orjson.dumps(failing_tree(args.errors))
    libs = [make() for make in LIBS]
    for lib in libs:
        lib.cls = lib.define()
        obj = lib.decode(lib.cls, doc)
        again = orjson.loads(lib.encode(lib.cls, obj))
        if same_tree(again, tree):
            lib.note = "round-trips"
        else:
            # pydantic's exclude_defaults, cattrs' omit_if_default and mashumaro's
            # omit_default (the published workload's settings) drop the tag too.
            assert same_tree(again, tree, tags=False), f"{lib.label}: wrong output"
            lib.note = "output lacks the type tags"

    ops = ["decode", "encode", "total", "dict", "define", "define+first", "errors"]
    wall: dict[str, dict[str, list[float]]] = {lib.label: {op: [] for op in ops} for lib in libs}
    cpu: dict[str, dict[str, list[float]]] = {lib.label: {op: [] for op in ops} for lib in libs}
    counts: dict[str, int] = {}
    n = max(20, 20_000 // args.size)
    for _ in range(args.rounds):
        for lib in libs:
            cls = lib.cls
            obj = lib.decode(cls, doc)
            results = {
                "decode": per_op(lambda: lib.decode(cls, doc), n),  # noqa: B023
                "encode": per_op(lambda: lib.encode(cls, obj), n),  # noqa: B023
                "total": per_op(lambda: lib.encode(cls, lib.decode(cls, doc)), n),  # noqa: B023
                "dict": per_op(lambda: lib.from_dict(cls, tree), n),  # noqa: B023
                "define": per_op(lib.define, 20),
                "define+first": per_op(lambda: lib.decode(lib.define(), small), 20),  # noqa: B023
                "errors": per_op(raising(lambda: lib.decode(cls, bad)), n),  # noqa: B023
            }
            for op, (w, c) in results.items():
                wall[lib.label][op].append(w)
                cpu[lib.label][op].append(c)
            counts[lib.label] = lib.count_errors(raising(lambda: lib.decode(cls, bad))())  # noqa: B023
    print(f"document: {len(doc):,} bytes, {args.size} nodes; {args.rounds} rounds; medians\n")
    base = libs[0].label
    header = f"{'library':<22}" + "".join(f"{op:>22}" for op in ops)
    print("wall-clock us per operation (ratio: library / vivace.schema)")
    print(header)
    for lib in libs:
        row = f"{lib.label:<22}"
        for op in ops:
            v = statistics.median(wall[lib.label][op])
            b = statistics.median(wall[base][op])
            row += f"{v:>13.1f} {v / b:>6.2f}x "
        print(row)
    print("\nCPU us per operation")
    print(header)
    for lib in libs:
        row = f"{lib.label:<22}"
        for op in ops:
            v = statistics.median(cpu[lib.label][op])
            b = statistics.median(cpu[base][op])
            row += f"{v:>13.1f} {v / b:>6.2f}x "
        print(row)
    print(f"\nerrors reported for the input with {args.errors} bad values; output check:")
    for lib in libs:
        print(f"  {lib.label:<22} {counts[lib.label]:>4}   {lib.note}")


if __name__ == "__main__":
    main()
