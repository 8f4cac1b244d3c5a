"""State machines as data: named states and transition tables that raise on an illegal move.

The HTTP/1.1 request reader (``_http11``), the connection (``_protocol``) and the response
side of a request (``_cycle``) each keep their state as one of a few ``State`` objects and
move only through their table::

    MOVES = transitions("reader", {
        IDLE: {"data": HEAD},
        HEAD: {"data": HEAD, "head": BODY},
    })
    state = MOVES[state]["head"]      # the next state, or IllegalMove naming both

A ``State`` hashes and compares by identity (C speed, no Python ``__hash__`` as an
``enum.Enum`` member has), so the lookup on the request path is two dict hits (~40 ns).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["IllegalMove", "Moves", "State", "transitions"]


class State:
    """One named state of a machine; compared with ``is``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


class IllegalMove(RuntimeError):
    """A machine was asked to make a move its table does not have: a bug in the caller."""

    def __init__(self, machine: str, state: State, event: str) -> None:
        super().__init__(f"{machine}: no move for {event!r} in state {state.name}")
        self.machine = machine
        self.state = state
        self.event = event


class Moves(dict[str, State]):
    """The moves out of one state (event -> next state); a missing one raises."""

    __slots__ = ("machine", "state")

    def __init__(self, machine: str, state: State, moves: Mapping[str, State]) -> None:
        super().__init__(moves)
        self.machine = machine
        self.state = state

    def __missing__(self, event: str) -> State:
        raise IllegalMove(self.machine, self.state, event)


def transitions(machine: str, table: Mapping[State, Mapping[str, State]]) -> dict[State, Moves]:
    """The table as ``{state: Moves}``; every target state must have a row of its own."""
    rows = {state: Moves(machine, state, moves) for state, moves in table.items()}
    for moves in rows.values():
        for target in moves.values():
            if target not in rows:
                raise ValueError(f"{machine}: state {target.name} has no row")
    return rows
