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

Precedence is Python's, so an expression means what it would mean in a notebook. Numbers only weigh or cut
stages: arithmetic between two numbers is refused (``2 ** 2 ** 2 ** 2 ** 2 ** 2`` would never finish), ``% k``
takes a whole number k >= 1, and an expression is at most :data:`MAX_LENGTH` characters, :data:`MAX_OPERATORS`
operators and :data:`MAX_DEPTH` parentheses deep, so every expression is checked in milliseconds.
"""
from __future__ import annotations

import math
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
MAX_LENGTH = 10_000
MAX_DEPTH = 64
MAX_OPERATORS = 200


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
        if len(text) > MAX_LENGTH:
            raise ExpressionError(text[:80] + "...", 1, f"an expression may be at most {MAX_LENGTH:,} characters")
        self.text, self.tokens, self.i, self.depth = text, _tokenize(text), 0, 0
        operators = [t for t in self.tokens if t[0] == "op" and t[1] not in "()"]
        if len(operators) > MAX_OPERATORS:
            raise ExpressionError(text, operators[MAX_OPERATORS][2], f"more than {MAX_OPERATORS} operators")

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
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ExpressionError(self.text, column, f"'**' chained more than {MAX_DEPTH} times")
            node = BinOp(op, node, self.power(), column)
            self.depth -= 1
        return node

    def atom(self) -> Node:
        kind, value, column = self.take()
        if kind == "number":
            number = float(value) if any(c in value for c in ".eE") else int(value)
            if not math.isfinite(number) or abs(number) > 1e12:
                raise ExpressionError(self.text, column, f"number {value} is out of range")
            return Number(number, column)
        if kind == "name":
            return Name(value, column)
        if (kind, value) == ("op", "("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ExpressionError(self.text, column, f"parentheses nested more than {MAX_DEPTH} deep")
            node = self.binary(0)
            self.depth -= 1
            kind2, value2, column2 = self.take()
            if (kind2, value2) != ("op", ")"):
                raise ExpressionError(self.text, column2, f"expected ')' to close the '(' at column {column}"
                                      + (f", found {value2!r}" if value2 else ", found the end"))
            return node
        found = f"{value!r}" if value else "the end of the expression"
        raise ExpressionError(self.text, column, f"expected a stage name, a number or '(', found {found}")


def parse_expression(text: str) -> Node:
    """Parse ``text`` into a syntax tree; raise :class:`ExpressionError` with the column on error."""
    tree = _Parser(text).parse()
    _check_numbers(text, tree)
    return tree


def _check_numbers(text: str, node: Node) -> None:
    """Numbers only weigh (``0.3 * s``) or cut (``s % 10``) stages; see the module."""
    if not isinstance(node, BinOp):
        return
    if isinstance(node.left, Number) and isinstance(node.right, Number):
        raise ExpressionError(text, node.column, f"{node.op!r} between two numbers is not a pipeline; "
                                                 f"write the number it gives")
    if node.op == "%":
        k = node.right
        if not (isinstance(k, Number) and isinstance(k.value, int) and k.value >= 1):
            raise ExpressionError(text, node.column, "'%' takes a whole number of results >= 1 on its right")
    elif node.op != "*" and (isinstance(node.left, Number) or isinstance(node.right, Number)):
        raise ExpressionError(text, node.column, f"{node.op!r} combines stages, not numbers")
    _check_numbers(text, node.left)
    _check_numbers(text, node.right)


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
