"""Parse a CloudWatch Logs Insights query into commands the emulator can evaluate (insights_query.py).

The query language as AWS documents it (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/
CWL_QuerySyntax.html): commands separated by `|`, each one of `fields`, `display`, `filter`,
`parse`, `sort`, `limit` and `stats` here (the rest are refused with MalformedQueryException, as
an unknown command is). Expressions follow the documented operators: comparison (= != < <= > >=),
`in [..]` / `not in`, `like` with a string (substring) or a /regex/, `=~`, and `and`, `or`, `not`,
arithmetic, and a few of the documented functions. Field names may carry `@`, dots (`error.code`,
`files.0`: the flattened JSON fields) and backquotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

COMMANDS = ("fields", "display", "filter", "parse", "sort", "limit", "stats")
AGGREGATES = ("count", "count_distinct", "sum", "avg", "min", "max", "pct")
_TOKEN_RE = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>\d+(?:\.\d+)?(?![\w.]))
    | (?P<duration>\d+(?:ms|s|m|h|d)\b)
    | (?P<name>`[^`]+`|@?[A-Za-z_][\w.@]*)
    | (?P<op>=~|!=|<=|>=|[=<>|,()\[\]*+/%-])
    )""",
    re.VERBOSE,
)
_REGEX_RE = re.compile(r"\s*/((?:[^/\\]|\\.)*)/(i?)")
_REGEX_AFTER = {"like", "=~"}


class QueryError(ValueError):
    """A query Logs Insights would refuse (MalformedQueryException); the message names the part."""


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, duration, name, op, regex
    text: str
    value: Any = None


@dataclass(frozen=True)
class Expr:
    """op: field, literal, list, regex, call, not, neg, and a binary operator; args by op."""

    op: str
    args: tuple[Any, ...] = ()


@dataclass
class Command:
    name: str
    items: list[tuple[Expr, str]] = field(default_factory=list)  # (expression, output name)
    condition: Expr | None = None
    source: Expr | None = None
    pattern: Any = None  # parse: a compiled regex
    names: list[str] = field(default_factory=list)  # parse: the fields it sets, in order
    descending: bool = False
    count: int = 0
    by: list[tuple[Expr, str]] = field(default_factory=list)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        previous = tokens[-1].text.lower() if tokens else ""
        after_parse = len(tokens) >= 2 and tokens[-2].text.lower() == "parse" and tokens[-1].kind == "name"
        if previous in _REGEX_AFTER or after_parse:
            regex = _REGEX_RE.match(text, pos)
            if regex:
                flags = re.IGNORECASE if regex[2] else 0
                try:
                    compiled = re.compile(_python_regex(regex[1]), flags)
                except re.error as exc:
                    raise QueryError(f"invalid regular expression /{regex[1]}/: {exc}") from None
                tokens.append(Token("regex", regex[0].strip(), compiled))
                pos = regex.end()
                continue
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f"unexpected character at position {pos}: {text[pos : pos + 20]!r}")
        kind = match.lastgroup or "op"
        raw = match[kind]
        tokens.append(Token(kind, raw, _token_value(kind, raw)))
        pos = match.end()
    return tokens


def _python_regex(pattern: str) -> str:
    """Logs Insights regexes name groups `(?<name>...)` (RE2/Java style); Python spells it `(?P<name>...)`."""
    return re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern).replace("\\/", "/")


def _token_value(kind: str, raw: str) -> Any:
    if kind == "string":
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    if kind == "number":
        return float(raw) if "." in raw else int(raw)
    if kind == "name" and raw.startswith("`"):
        return raw[1:-1]
    return raw


def split_commands(tokens: list[Token]) -> list[list[Token]]:
    """The pipeline's commands: `|` tokens at the top level (a regex's `|` is inside its token)."""
    commands: list[list[Token]] = [[]]
    for token in tokens:
        if token.kind == "op" and token.text == "|":
            commands.append([])
        else:
            commands[-1].append(token)
    if any(not command for command in commands):
        raise QueryError("empty command: a `|` with nothing before or after it")
    return commands


def parse_query(text: str) -> list[Command]:
    if not text.strip():
        raise QueryError("the query is empty")
    return [_command(tokens) for tokens in split_commands(tokenize(text))]


def _command(tokens: list[Token]) -> Command:
    name = tokens[0].text.lower()
    if tokens[0].kind != "name" or name not in COMMANDS:
        raise QueryError(f"unknown or unsupported command {tokens[0].text!r} (supported: {', '.join(COMMANDS)})")
    reader = _Reader(tokens[1:], name)
    command = Command(name)
    if name in ("fields", "display"):
        command.items = reader.named_list()
    elif name == "filter":
        command.condition = reader.expression()
    elif name == "parse":
        _parse_command(reader, command)
    elif name == "sort":
        command.items = [(reader.expression(), "")]
        if reader.peek_name() in ("asc", "desc"):
            command.descending = reader.take().text.lower() == "desc"
    elif name == "limit":
        token = reader.take()
        if token.kind != "number" or not isinstance(token.value, int) or token.value <= 0:
            raise QueryError(f"limit takes a positive whole number, not {token.text!r}")
        command.count = token.value
    else:
        command.items = reader.named_list()
        if reader.peek_name() == "by":
            reader.take()
            command.by = reader.named_list()
    reader.done()
    return command


def _parse_command(reader: _Reader, command: Command) -> None:
    """`parse field "glob * with * stars" as a, b` or `parse field /(?<a>..)/` (CWL_QuerySyntax-Parse.html)."""
    command.source = reader.expression(primary_only=True)
    token = reader.take()
    if token.kind == "regex":
        command.pattern = token.value
        command.names = list(token.value.groupindex)
        if not command.names:
            raise QueryError("parse with a regular expression needs named groups: (?<name>...)")
        return
    if token.kind != "string":
        raise QueryError(f'parse expects a "glob" string or a /regex/ after the field, not {token.text!r}')
    if reader.peek_name() != "as":
        raise QueryError("parse with a glob pattern needs `as` and one name per *")
    reader.take()
    command.names = [name for _, name in reader.named_list()]
    parts = token.value.split("*")
    if len(parts) - 1 != len(command.names):
        raise QueryError(f"parse pattern has {len(parts) - 1} '*' but {len(command.names)} names after `as`")
    glob = "(.*?)".join(re.escape(part) for part in parts)  # each * matches as little as it can
    command.pattern = re.compile(glob)


def _source_text(tokens: list[Token]) -> str:
    """An unnamed expression's column name, written as a query writes it: `pct(@duration, 99)`."""
    text = ""
    for i, token in enumerate(tokens):
        tight = token.text in (")", ",") or token.text == "(" or (i and tokens[i - 1].text == "(")
        text += token.text if not text or tight else f" {token.text}"
    return text


class _Reader:
    """A recursive-descent reader over one command's tokens."""

    def __init__(self, tokens: list[Token], command: str) -> None:
        self.tokens, self.pos, self.command = tokens, 0, command

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def peek_name(self) -> str:
        token = self.peek()
        return token.text.lower() if token is not None and token.kind == "name" else ""

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise QueryError(f"`{self.command}` ends too early")
        self.pos += 1
        return token

    def accept(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token.text.lower() == text and token.kind in ("op", "name"):
            self.pos += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            found = self.peek()
            raise QueryError(f"`{self.command}`: expected {text!r}, found {found.text if found else 'the end'!r}")

    def done(self) -> None:
        if self.peek() is not None:
            raise QueryError(f"`{self.command}`: unexpected {self.peek().text!r}")  # type: ignore[union-attr]

    def named_list(self) -> list[tuple[Expr, str]]:
        items: list[tuple[Expr, str]] = []
        while True:
            start = self.pos
            expr = self.expression()
            name = _source_text(self.tokens[start : self.pos])
            if self.peek_name() == "as":
                self.take()
                alias = self.take()
                if alias.kind != "name":
                    raise QueryError(f"`{self.command}`: expected a name after `as`, found {alias.text!r}")
                name = alias.value
            elif expr.op == "field":
                name = expr.args[0]
            items.append((expr, name))
            if not self.accept(","):
                return items

    def expression(self, primary_only: bool = False) -> Expr:
        return self._primary() if primary_only else self._or()

    def _or(self) -> Expr:
        left = self._and()
        while self.peek_name() == "or":
            self.take()
            left = Expr("or", (left, self._and()))
        return left

    def _and(self) -> Expr:
        left = self._not()
        while self.peek_name() == "and":
            self.take()
            left = Expr("and", (left, self._not()))
        return left

    def _not(self) -> Expr:
        if self.peek_name() == "not":
            self.take()
            return Expr("not", (self._not(),))
        return self._comparison()

    def _comparison(self) -> Expr:
        left = self._additive()
        negate = False
        if self.peek_name() == "not":
            self.take()
            negate = True
        token = self.peek()
        word = token.text.lower() if token is not None else ""
        if word in ("=", "!=", "<", "<=", ">", ">=", "=~") and not negate:
            self.take()
            return Expr(word, (left, self._additive() if word != "=~" else self._pattern()))
        if word == "in":
            self.take()
            result = Expr("in", (left, self._list()))
        elif word == "like":
            self.take()
            result = Expr("like", (left, self._pattern()))
        elif negate:
            raise QueryError(f"`{self.command}`: `not` after a value must be followed by `in` or `like`")
        else:
            return left
        return Expr("not", (result,)) if negate else result

    def _pattern(self) -> Expr:
        token = self.take()
        if token.kind == "regex":
            return Expr("regex", (token.value,))
        if token.kind == "string":
            return Expr("literal", (token.value,))
        raise QueryError(f'`{self.command}`: expected a "string" or a /regex/, found {token.text!r}')

    def _list(self) -> Expr:
        self.expect("[")
        values: list[Expr] = []
        if not self.accept("]"):
            values.append(self._additive())
            while self.accept(","):
                values.append(self._additive())
            self.expect("]")
        return Expr("list", tuple(values))

    def _additive(self) -> Expr:
        left = self._multiplicative()
        while (token := self.peek()) is not None and token.kind == "op" and token.text in "+-":
            self.take()
            left = Expr(token.text, (left, self._multiplicative()))
        return left

    def _multiplicative(self) -> Expr:
        left = self._primary()
        while (token := self.peek()) is not None and token.kind == "op" and token.text in ("*", "/", "%"):
            self.take()
            left = Expr(token.text, (left, self._primary()))
        return left

    def _primary(self) -> Expr:
        token = self.take()
        if token.kind in ("string", "number"):
            return Expr("literal", (token.value,))
        if token.kind == "duration":
            return Expr("duration", (token.text,))
        if token.kind == "op" and token.text == "(":
            inner = self._or()
            self.expect(")")
            return inner
        if token.kind == "op" and token.text == "-":
            return Expr("neg", (self._primary(),))
        if token.kind == "op" and token.text == "*" and self.command == "stats":
            return Expr("star")
        if token.kind != "name":
            raise QueryError(f"`{self.command}`: unexpected {token.text!r}")
        if self.accept("("):
            args: list[Expr] = []
            if not self.accept(")"):
                args.append(self._or())
                while self.accept(","):
                    args.append(self._or())
                self.expect(")")
            return Expr("call", (token.text.lower(), tuple(args)))
        return Expr("field", (token.value,))
