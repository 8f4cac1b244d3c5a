"""Multi-value dictionaries: ``ImmutableMultiDict``, ``MultiDict`` and ``QueryParams``.

Query strings and form bodies may repeat a key (``?tag=a&tag=b``). These mappings keep
every pair in order; plain indexing returns the last value for a key, as Django's
``QueryDict`` and Starlette do, and ``getlist`` returns them all.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Any, Generic, TypeVar, overload
from urllib.parse import parse_qsl, urlencode

__all__ = ["ImmutableMultiDict", "MultiDict", "QueryParams"]

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")


class ImmutableMultiDict(Mapping[K, V], Generic[K, V]):
    """A read-only mapping that keeps repeated keys.

    >>> d = ImmutableMultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    >>> d["a"], d.getlist("a"), len(d)
    ('3', ['1', '3'], 2)
    >>> d.multi_items()
    [('a', '1'), ('b', '2'), ('a', '3')]
    """

    __slots__ = ("_dict", "_list")

    _dict: dict[K, V]
    _list: list[tuple[K, V]]

    def __init__(
        self,
        items: ImmutableMultiDict[K, V] | Mapping[K, V] | Iterable[tuple[K, V]] | None = None,
        /,
        **kwargs: Any,
    ) -> None:
        pairs: list[tuple[K, V]]
        if items is None:
            pairs = []
        elif isinstance(items, ImmutableMultiDict):
            pairs = items.multi_items()
        elif isinstance(items, Mapping):
            pairs = list(items.items())
        else:
            pairs = list(items)
        if kwargs:
            pairs.extend(kwargs.items())  # type: ignore[arg-type]
        self._list = pairs
        self._dict = dict(pairs)

    def getlist(self, key: K) -> list[V]:
        """Every value stored for ``key``, in order (empty if absent)."""
        return [v for k, v in self._list if k == key]

    def multi_items(self) -> list[tuple[K, V]]:
        """Every ``(key, value)`` pair, repeated keys included, in order."""
        return list(self._list)

    def keys(self) -> KeysView[K]:
        return self._dict.keys()

    def values(self) -> ValuesView[V]:
        return self._dict.values()

    def items(self) -> ItemsView[K, V]:
        return self._dict.items()

    @overload
    def get(self, key: K, /) -> V | None: ...
    @overload
    def get(self, key: K, /, default: V | D) -> V | D: ...
    def get(self, key: K, /, default: object = None) -> object:
        return self._dict.get(key, default)

    def __getitem__(self, key: K) -> V:
        return self._dict[key]

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[K]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ImmutableMultiDict):
            return NotImplemented
        return sorted(map(repr, self._list)) == sorted(map(repr, other._list))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list!r})"


class MultiDict(ImmutableMultiDict[K, V]):
    """A mutable ``ImmutableMultiDict``.

    >>> d = MultiDict([("a", "1")])
    >>> d.append("a", "2"); d["b"] = "3"
    >>> d.multi_items()
    [('a', '1'), ('a', '2'), ('b', '3')]
    """

    __slots__ = ()

    def __setitem__(self, key: K, value: V) -> None:
        """Replace every value of ``key`` with ``value``."""
        self.setlist(key, [value])

    def __delitem__(self, key: K) -> None:
        self._list = [(k, v) for k, v in self._list if k != key]
        del self._dict[key]

    def pop(self, key: K, default: Any = None) -> Any:
        """Remove ``key`` and return its last value (``default`` if absent)."""
        if key not in self._dict:
            return default
        value = self._dict[key]
        del self[key]
        return value

    def poplist(self, key: K) -> list[V]:
        """Remove ``key`` and return all its values."""
        values = self.getlist(key)
        if key in self._dict:
            del self[key]
        return values

    def clear(self) -> None:
        self._list.clear()
        self._dict.clear()

    def setdefault(self, key: K, default: V) -> V:
        if key not in self._dict:
            self.append(key, default)
        return self._dict[key]

    def setlist(self, key: K, values: list[V]) -> None:
        """Replace every value of ``key`` with ``values`` (none removes the key)."""
        if not values:
            self.pop(key)
            return
        kept = [(k, v) for k, v in self._list if k != key]
        kept.extend((key, v) for v in values)
        self._list = kept
        self._dict[key] = values[-1]

    def append(self, key: K, value: V) -> None:
        """Add one more value for ``key``."""
        self._list.append((key, value))
        self._dict[key] = value

    def update(
        self,
        other: ImmutableMultiDict[K, V] | Mapping[K, V] | Iterable[tuple[K, V]] = (),
        /,
        **kwargs: V,
    ) -> None:
        """Replace the values of every key in ``other`` (and ``kwargs``) by the new ones."""
        incoming = ImmutableMultiDict(other, **kwargs)
        keys = set(incoming.keys())
        self._list = [(k, v) for k, v in self._list if k not in keys]
        self._list.extend(incoming.multi_items())
        self._dict = dict(self._list)


class QueryParams(ImmutableMultiDict[str, str]):
    """The parameters of a query string, parsed once, blank values kept.

    >>> q = QueryParams("a=1&b=&a=3")
    >>> q["a"], q.getlist("a"), q["b"]
    ('3', ['1', '3'], '')
    >>> str(QueryParams({"q": "café & tea"}))
    'q=caf%C3%A9+%26+tea'
    """

    __slots__ = ()

    def __init__(
        self,
        query: str
        | bytes
        | ImmutableMultiDict[str, str]
        | Mapping[str, Any]
        | Iterable[tuple[str, Any]]
        | None = None,
        /,
        **kwargs: Any,
    ) -> None:
        if isinstance(query, bytes):
            # Percent-escapes decode as UTF-8 below; raw non-ASCII bytes (curl sends them)
            # are read the same way, with U+FFFD for invalid sequences, never an error.
            query = query.decode("utf-8", "replace")
        if isinstance(query, str):
            super().__init__(parse_qsl(query, keep_blank_values=True), **kwargs)
        else:
            super().__init__(query, **kwargs)
        # Values given as numbers or other objects become their text, as they would in a URL.
        if any(not isinstance(v, str) for _, v in self._list):
            self._list = [(str(k), str(v)) for k, v in self._list]
            self._dict = dict(self._list)

    def __str__(self) -> str:
        return urlencode(self._list)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"
