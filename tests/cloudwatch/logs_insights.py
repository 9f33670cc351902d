"""A reader of the CloudWatch Logs Insights queries on the dashboards, for checking them against real log lines.

It knows the part of the query language the dashboards use: ``SOURCE``, ``fields``, ``filter``,
``stats``, ``sort``, ``display``, ``limit`` and ``dedup`` commands; string literals, regular expressions
(``/.../``), durations (``1d``, ``5m``) and lists (``['a', 'b']``); function calls; ``as`` aliases; and in
``filter``: ``and``, ``or``, ``not``, parentheses, ``ispresent(f)``, ``f = 'v'``, ``f != 'v'``,
``f in [...]``, ``f not in [...]`` and ``f like /re/`` or ``'text'``. Anything else raises ``ValueError``,
so a query written with more of the language makes this reader grow instead of passing it by.

Its two answers: which **log fields** a query reads (every identifier that is not a command, a keyword, a
function, an alias the query defines or one of CloudWatch's ``@`` fields), with the **values** its
filters compare them with; and whether a ``filter`` matches one JSON log line, with CloudWatch's rule that
a comparison on a field the line does not carry is false.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Query", "Token", "parse_query", "tokenize"]

_KEYWORDS = frozenset({"and", "or", "not", "in", "by", "as", "asc", "desc", "like"})
_COMMANDS = frozenset({"fields", "filter", "stats", "sort", "display", "limit", "dedup"})
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<regex>/(?:[^/\\\n]|\\.)+/)
  | (?P<number>[0-9]+(?:\.[0-9]+)?[a-z]*)
  | (?P<name>@?[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<operator>!=|<=|>=|=|<|>)
  | (?P<punctuation>[()\[\],*|+\-])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token of a query: its kind (string, regex, number, name, operator, punctuation) and text."""

    kind: str
    text: str

    @property
    def value(self) -> str:
        """A string literal's value without its quotes (and a regex's pattern without its slashes)."""
        if self.kind in ("string", "regex"):
            return self.text[1:-1]
        return self.text


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; raises ``ValueError`` at a character the reader does not know."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"cannot read the query at {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group()))
        position = match.end()
    return tokens


def _commands(tokens: list[Token]) -> list[list[Token]]:
    """The query split at its top-level pipes (a pipe inside a string or a regex is part of that token)."""
    commands: list[list[Token]] = [[]]
    for token in tokens:
        if token.kind == "punctuation" and token.text == "|":
            commands.append([])
        else:
            commands[-1].append(token)
    return [command for command in commands if command]


@dataclass(frozen=True, slots=True)
class Query:
    """One parsed Logs Insights query."""

    text: str
    #: ``SOURCE`` log groups, as written (placeholders included).
    sources: tuple[str, ...]
    #: ``(command, tokens after it)`` for every command but ``SOURCE``.
    commands: tuple[tuple[str, tuple[Token, ...]], ...]
    #: Names the query defines with ``as``.
    aliases: frozenset[str]
    #: Every log field the query reads, in the order it first names them.
    fields: tuple[str, ...]
    #: For each field a filter compares with literals: those literals.
    compared: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def matches(self, line: Mapping[str, Any]) -> bool:
        """Whether ``line`` passes every ``filter`` command of the query."""
        return all(_Filter(tokens).evaluate(line) for command, tokens in self.commands if command == "filter")


def parse_query(text: str) -> Query:
    """``text`` read as a Logs Insights query; ``ValueError`` for a command or a form the reader does not know."""
    sources: list[str] = []
    commands: list[tuple[str, tuple[Token, ...]]] = []
    for parts in _commands(tokenize(text)):
        head, rest = parts[0], parts[1:]
        if head.kind == "name" and head.text == "SOURCE":
            if len(rest) != 1 or rest[0].kind != "string":
                raise ValueError(f"SOURCE takes one quoted log group: {text!r}")
            sources.append(rest[0].value)
        elif head.kind == "name" and head.text in _COMMANDS:
            commands.append((head.text, tuple(rest)))
        else:
            raise ValueError(f"unknown Logs Insights command {head.text!r}")
    aliases = {
        tokens[index + 1].text
        for _, tokens in commands
        for index, token in enumerate(tokens[:-1])
        if token.kind == "name" and token.text == "as"
    }
    fields: list[str] = []
    for _, tokens in commands:
        for index, token in enumerate(tokens):
            if token.kind != "name" or token.text in _KEYWORDS or token.text.startswith("@"):
                continue
            if index + 1 < len(tokens) and tokens[index + 1].text == "(":
                continue  # a function
            if index > 0 and tokens[index - 1].text == "as":
                continue  # the alias being defined
            if token.text in aliases or token.text in fields:
                continue
            fields.append(token.text)
    compared: dict[str, set[str]] = {}
    for command, tokens in commands:
        if command == "filter":
            for name, values in _Filter(tokens).comparisons():
                compared.setdefault(name, set()).update(values)
    return Query(
        text=text,
        sources=tuple(sources),
        commands=tuple(commands),
        aliases=frozenset(aliases),
        fields=tuple(fields),
        compared={name: frozenset(values) for name, values in compared.items()},
    )


class _Filter:
    """A recursive-descent reader of one ``filter`` expression: ``or`` of ``and`` of ``not``/atoms."""

    def __init__(self, tokens: tuple[Token, ...]) -> None:
        self.tokens = tokens
        self.position = 0
        self.line: Mapping[str, Any] = {}

    def evaluate(self, line: Mapping[str, Any]) -> bool:
        self.position, self.line = 0, line
        result = self._or()
        if self.position != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.position].text!r} in a filter")
        return result

    def comparisons(self) -> list[tuple[str, tuple[str, ...]]]:
        """``(field, literals)`` for each comparison with literals in the expression."""
        found: list[tuple[str, tuple[str, ...]]] = []
        tokens = self.tokens
        for index, token in enumerate(tokens[:-2]):
            if token.kind != "name" or token.text in _KEYWORDS:
                continue
            following = tokens[index + 1]
            if following.kind == "operator" and tokens[index + 2].kind == "string":
                found.append((token.text, (tokens[index + 2].value,)))
            elif following.text == "in" or (following.text == "not" and tokens[index + 2].text == "in"):
                start = index + (2 if following.text == "in" else 3)
                found.append((token.text, tuple(t.value for t in self._list_at(start)[0])))
        return found

    # -- grammar ---------------------------------------------------------------------------------

    def _peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, text: str | None = None) -> Token:
        token = self._peek()
        if token is None or (text is not None and token.text != text):
            raise ValueError(f"expected {text or 'more'} in a filter, found {token.text if token else 'the end'!r}")
        self.position += 1
        return token

    def _or(self) -> bool:
        result = self._and()
        while (token := self._peek()) is not None and token.text == "or":
            self._take()
            right = self._and()
            result = result or right
        return result

    def _and(self) -> bool:
        result = self._not()
        while (token := self._peek()) is not None and token.text == "and":
            self._take()
            right = self._not()
            result = result and right
        return result

    def _not(self) -> bool:
        token = self._peek()
        if token is not None and token.text == "not":
            self._take()
            return not self._not()
        return self._atom()

    def _atom(self) -> bool:
        token = self._take()
        if token.text == "(":
            result = self._or()
            self._take(")")
            return result
        if token.kind != "name":
            raise ValueError(f"a filter condition cannot start with {token.text!r}")
        if token.text == "ispresent":
            self._take("(")
            name = self._take().text
            self._take(")")
            return self.line.get(name) is not None
        present = token.text in self.line and self.line[token.text] is not None
        value = str(self.line[token.text]) if present else None
        operator = self._take()
        # Each branch reads its operands before it looks at the line: a missing field must not stop the reading.
        if operator.text == "not":
            self._take("in")
            values = self._list()
            return present and value not in values
        if operator.text == "in":
            values = self._list()
            return present and value in values
        if operator.text == "like":
            pattern = self._take()
            if not present:
                return False
            if pattern.kind == "regex":
                return re.search(pattern.value, value or "") is not None
            return pattern.value in (value or "")
        if operator.kind == "operator" and operator.text in ("=", "!="):
            literal = self._take()
            if literal.kind not in ("string", "number"):
                raise ValueError(f"compare {token.text} with a literal, not {literal.text!r}")
            return present and (value == literal.value) == (operator.text == "=")
        raise ValueError(f"the reader does not know {operator.text!r} in a filter")

    def _list(self) -> set[str]:
        values, self.position = self._list_at(self.position)
        return {token.value for token in values}

    def _list_at(self, start: int) -> tuple[list[Token], int]:
        tokens = self.tokens
        if start >= len(tokens) or tokens[start].text != "[":
            raise ValueError("expected a list [...] after in")
        values: list[Token] = []
        index = start + 1
        while index < len(tokens) and tokens[index].text != "]":
            if tokens[index].text != ",":
                values.append(tokens[index])
            index += 1
        if index == len(tokens):
            raise ValueError("a list [...] is not closed")
        return values, index + 1
