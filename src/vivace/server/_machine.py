"""State machines as data: named states and transition tables that raise on an illegal move.

The HTTP/1.1 request reader (``_http11``), the connection (``_protocol``) and the response
side of a request (``_cycle``) each keep their state as one of a few ``State`` objects and
move only through their table, written once as data::

    IDLE, HEAD, BODY = State("IDLE"), State("HEAD"), State("BODY")
    transitions("reader", {
        IDLE: {"data": HEAD},
        HEAD: {"data": HEAD, "head": BODY},
        BODY: {"end": IDLE},
    })
    state = state.head        # the next state, or AttributeError naming the state and event
    state.http_response_start # the same for a dotted event (an ASGI message type)
    state.move(event)         # the same for any event, given as a string (IllegalMove)
    state.moves.get(event)    # None if there is no move

``transitions`` installs each row's moves on its state: the move for an event that is a
Python name, or one once its dots are underscores (``http.response.start`` is
``http_response_start``), is an attribute of the state, and a move the row lacks is an
attribute that does not exist, so it raises ``AttributeError`` naming the machine, the
state and the event ("'request reader in state SWITCHED' object has no attribute
'data'": each state is the one instance of a class of its own, named for that message).
``state.move(event)`` raises ``IllegalMove``, an ``AttributeError`` too.

Speed trick (the one in this module), measured with timeit on CPython 3.11: a move such
as ``state.head`` costs ~2.5 ns over a plain assignment. That needs the state created as
an instance of its own class (no ``__slots__``, no ``__getattr__``, no later
``__class__`` change), so that CPython keeps its attributes inline and specialises the
load; the first design (a ``__dict__`` slot, the class swapped in by ``transitions``) cost
~18 ns a move, a ``__getattr__`` hook ~25 ns, a lookup in a table of dicts ~57 ns. The
request path makes about seven moves a request: ~0.1 us of bench/server_inproc.py's
~4.3 us a request (docs/benchmarks.md, issue 15).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

__all__ = ["IllegalMove", "State", "transitions"]


class IllegalMove(AttributeError):
    """A machine was asked to make a move its table does not have: a bug in the caller."""

    def __init__(self, machine: str, state: State, event: str) -> None:
        super().__init__(f"{machine}: no move for {event!r} in state {state.name}")
        self.machine = machine
        self.state = state
        self.event = event


_OWN = ("name", "machine", "moves")  # a State's own attributes: no event may be named so


class State:
    """One named state of a machine; compared with ``is``. Its moves are set by
    ``transitions``: ``moves`` maps event to next state, and each event that is a name
    is also an attribute."""

    def __new__(cls, name: str) -> State:
        # Each state the one instance of a class of its own (see the module docstring),
        # renamed by transitions() for the error of a move its row lacks.
        own = type(name, (cls,), {"__qualname__": f"{cls.__qualname__}.{name}"})
        return object.__new__(own)

    def __init__(self, name: str) -> None:
        self.name = name
        self.machine = ""
        self.moves: dict[str, State] = {}

    def move(self, event: str) -> State:
        """The move for any event (``state.head`` is the fast spelling for names)."""
        target = self.moves.get(event)
        if target is None:
            raise IllegalMove(self.machine or "machine", self, event)
        return target

    if TYPE_CHECKING:  # the moves, installed as attributes by transitions()

        def __getattr__(self, event: str) -> State: ...

    def __repr__(self) -> str:
        return self.name


def transitions(machine: str, table: Mapping[State, Mapping[str, State]]) -> None:
    """Install ``table`` (state -> event -> next state) on its states.

    Every target must have a row of its own, and an event named (once its dots are
    underscores) like a State attribute or another event of its row could not be told from
    them, so these are refused.
    """
    for moves in table.values():
        names = set()
        for event, target in moves.items():
            if target not in table:
                raise ValueError(f"{machine}: state {target.name} has no row")
            name = _attribute(event)
            if name in _OWN or hasattr(State, name) or name.startswith("__") or name in names:
                raise ValueError(f"{machine}: {event!r} cannot name an event")
            names.add(name)
    for state, moves in table.items():
        state.machine = machine
        # Its own class, named for the AttributeError of a move the row lacks.
        type(state).__name__ = f"{machine} in state {state.name}"
        state.moves = dict(moves)
        for event, target in moves.items():
            name = _attribute(event)
            if name.isidentifier():
                setattr(state, name, target)


def _attribute(event: str) -> str:
    """The attribute that holds the move for ``event``: ``http.response.start`` is
    ``http_response_start`` (an event that is not a name once dotted stays a ``moves`` key)."""
    return event.replace(".", "_")
