"""The restricted grammar of pipeline expressions (never ``eval``).

    expr   := or
    or     := xor ("|" xor)*          set union
    xor    := and ("^" and)*          concatenation
    and    := shift ("&" shift)*      intersection
    shift  := sum (">>" sum)*         composition
    sum    := prod ("+" prod)*        linear combination
    prod   := power (("*" | "%") power)*   scaling, rank cutoff
    power  := atom ("**" power)?      feature union
    atom   := NAME | NUMBER | "(" expr ")"

Precedence is Python's, so an expression means what it would mean in a notebook.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Union

from ..core import TirError

_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>>>|\*\*|[%+*|&^()]))")
_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "|": operator.or_, "^": operator.xor, "&": operator.and_, ">>": operator.rshift,
    "+": operator.add, "*": operator.mul, "%": operator.mod, "**": operator.pow,
}
_LEVELS = [("|",), ("^",), ("&",), (">>",), ("+",), ("*", "%")]


class ExpressionError(TirError, SyntaxError):
    """A syntax error or unknown name in a pipeline expression, with its column."""

    def __init__(self, expression: str, column: int, message: str):
        self.expression, self.column = expression, column
        caret = " " * (column - 1) + "^"
        super().__init__(f"{message} at column {column} of expression:\n  {expression}\n  {caret}")

    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class Name:
    name: str
    column: int


@dataclass(frozen=True)
class Number:
    value: Union[int, float]
    column: int


@dataclass(frozen=True)
class BinOp:
    op: str
    left: "Node"
    right: "Node"
    column: int


Node = Union[Name, Number, BinOp]


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            column = len(text) - len(text[pos:].lstrip()) + 1
            raise ExpressionError(text, column, f"unexpected character {text[column - 1]!r}")
        kind = m.lastgroup
        tokens.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    tokens.append(("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text, self.tokens, self.i = text, _tokenize(text), 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node:
        if self.peek()[0] == "end":
            raise ExpressionError(self.text, 1, "empty expression")
        node = self.binary(0)
        kind, value, column = self.peek()
        if kind != "end":
            raise ExpressionError(self.text, column, f"unexpected {value!r}")
        return node

    def binary(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.power()
        node = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in _LEVELS[level]:
            _, op, column = self.take()
            node = BinOp(op, node, self.binary(level + 1), column)
        return node

    def power(self) -> Node:
        node = self.atom()
        if self.peek()[:2] == ("op", "**"):
            _, op, column = self.take()
            node = BinOp(op, node, self.power(), column)
        return node

    def atom(self) -> Node:
        kind, value, column = self.take()
        if kind == "number":
            return Number(float(value) if any(c in value for c in ".eE") else int(value), column)
        if kind == "name":
            return Name(value, column)
        if (kind, value) == ("op", "("):
            node = self.binary(0)
            kind2, value2, column2 = self.take()
            if (kind2, value2) != ("op", ")"):
                raise ExpressionError(self.text, column2, f"expected ')' to close the '(' at column {column}"
                                      + (f", found {value2!r}" if value2 else ", found the end"))
            return node
        found = f"{value!r}" if value else "the end of the expression"
        raise ExpressionError(self.text, column, f"expected a stage name, a number or '(', found {found}")


def parse_expression(text: str) -> Node:
    """Parse ``text`` into a syntax tree; raise :class:`ExpressionError` with the column on error."""
    return _Parser(text).parse()


def names_in(node: Node) -> list[Name]:
    if isinstance(node, Name):
        return [node]
    if isinstance(node, BinOp):
        return names_in(node.left) + names_in(node.right)
    return []


def evaluate(text: str, env: Mapping[str, Any]) -> Any:
    """Parse ``text`` and apply PyTerrier's operators to the objects ``env`` names."""
    tree = parse_expression(text)
    for name in names_in(tree):
        if name.name not in env:
            known = ", ".join(sorted(env)) or "none"
            raise ExpressionError(text, name.column, f"unknown stage {name.name!r} (known: {known})")

    def ev(node: Node) -> Any:
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Name):
            return env[node.name]
        left, right = ev(node.left), ev(node.right)
        try:
            return _BINARY[node.op](left, right)
        except Exception as e:
            raise ExpressionError(text, node.column, f"cannot apply {node.op!r}: {e}") from e
    return ev(tree)
