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
    state = state.head        # the next state, or IllegalMove naming the state and event
    state.move(event)         # the same for an event that is not a name (an ASGI type)
    state.moves.get(event)    # None if there is no move

``transitions`` installs each row's moves on its state: the move for an event that is a
Python name is an attribute of the state, and a move the row lacks is an attribute that
does not exist, so it raises ``AttributeError`` naming the machine, the state and the
event ("'request reader in state SWITCHED' object has no attribute 'data'"; each state
gets a class of its own for that name). ``state.move(event)`` raises ``IllegalMove``, an
``AttributeError`` too. Speed trick, measured with timeit on 3.11: ``state.head`` costs
~9 ns over a plain assignment, a lookup in a table of dicts ~57 ns, the same attribute
with a ``__getattr__`` hook for the error ~25 ns; the request path makes about seven
moves a request (bench/server_inproc.py: ~4.5 us a request in all).
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


class State:
    """One named state of a machine; compared with ``is``. Its moves are set by
    ``transitions``: ``moves`` maps event to next state, and each event that is a name
    is also an attribute."""

    __slots__ = ("__dict__", "machine", "moves", "name")

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

    Every target must have a row of its own, and an event named like a State attribute
    could not be told from it, so both are refused.
    """
    for moves in table.values():
        for event, target in moves.items():
            if target not in table:
                raise ValueError(f"{machine}: state {target.name} has no row")
            if hasattr(State, event) or event.startswith("__"):
                raise ValueError(f"{machine}: {event!r} cannot name an event")
    for state, moves in table.items():
        state.machine = machine
        # A class of its own, named for the AttributeError of a move the row lacks.
        state.__class__ = type(f"{machine} in state {state.name}", (State,), {"__slots__": ()})
        state.moves = dict(moves)
        for event, target in moves.items():
            if event.isidentifier():
                state.__dict__[event] = target
