"""Evaluate a parsed Logs Insights query (insights_parse.py) over log events, as CloudWatch Logs does.

What each step follows (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/...):
- discovered fields (CWL_AnalyzeLogData-discoverable-fields.html): @timestamp, @message,
  @logStream, @log (`account:group`), @ingestionTime, @ptr; a JSON event's keys, nested ones
  flattened with dots and arrays by index (`error.code`, `files.0`; at most 200 per event); a
  Lambda REPORT line's @type, @requestId, @duration, @billedDuration, @memorySize, @maxMemoryUsed;
- `fields` adds fields (`as` renames) and chooses the result's columns; `display` replaces them
  (CWL_QuerySyntax-Fields.html, -Display.html); a row leaves out the fields an event lacks;
- `filter` keeps events whose condition holds; a comparison with a missing field is false;
  `like "text"` is a substring test, `like /re/` and `=~` a regex search (CWL_QuerySyntax-Filter.html);
- `parse` (CWL_QuerySyntax-Parse.html): a glob's `*` matches lazily, a regex sets its named groups;
- `sort` uses the documented natural order: non-numbers before numbers, digit runs compared by
  length then value (CWL_QuerySyntax-Sort.html);
- `limit` N rows, 10,000 when the query has none (CWL_QuerySyntax-Limit.html);
- `stats` aggregates (count, count_distinct, sum, avg, min, max, pct) `by` fields or bin(period)
  (CWL_QuerySyntax-Stats.html); its rows carry no @ptr.
Results are strings, as GetQueryResults returns them; @timestamp reads `YYYY-MM-DD HH:MM:SS.mmm`.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cmp_to_key
from typing import Any

from dataops_cli.emulator.insights_parse import Command, Expr, QueryError, parse_query
from dataops_cli.observe.metrics import percentile
from dataops_cli.observe.runlog_reader import REPORT_RE

DEFAULT_LIMIT = 10_000
MAX_JSON_FIELDS = 200
Record = dict[str, Any]
_DURATIONS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_CHUNK_RE = re.compile(r"\d+|\D+")
_NUMBER_RE = re.compile(r"-?\d+(\.\d+)?")
_NUMBER_START = frozenset("-0123456789 ")


@dataclass
class QueryResult:
    rows: list[list[dict[str, str]]]  # GetQueryResults' shape: [[{"field", "value"}, ...], ...]
    records_scanned: int
    records_matched: int
    bytes_scanned: int


def event_record(event: dict[str, Any], group: str, account: str) -> Record:
    """The fields Logs Insights discovers in one FilterLogEvents-shaped event."""
    message = event.get("message", "")
    pointer = json.dumps([group, event.get("logStreamName", ""), event.get("eventId", "")])
    record: Record = {
        "@timestamp": event["timestamp"],
        "@message": message,
        "@logStream": event.get("logStreamName", ""),
        "@log": f"{account}:{group}",
        "@ingestionTime": event.get("ingestionTime", event["timestamp"]),
        "@ptr": base64.b64encode(pointer.encode()).decode(),
    }
    text = message.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict):
            flat: Record = {}
            _flatten(document, "", flat)
            record.update(dict(list(flat.items())[:MAX_JSON_FIELDS]))
    elif report := REPORT_RE.search(message):
        record["@type"] = "REPORT"
        record["@requestId"] = report["request_id"]
        record["@duration"] = float(report["duration"])
        for key, group_name in (("@billedDuration", "billed"), ("@memorySize", "memory"), ("@maxMemoryUsed", "used")):
            if report[group_name] is not None:
                record[key] = int(report[group_name])
    return record


def _flatten(value: Any, prefix: str, out: Record) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}{key}." if isinstance(item, dict | list) else f"{prefix}{key}", out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}{index}." if isinstance(item, dict | list) else f"{prefix}{index}", out)
    elif value is not None:
        out[prefix.rstrip(".") if prefix.endswith(".") else prefix] = value


def run(query: str, records: Iterable[Record]) -> QueryResult:
    """Parse and evaluate; QueryError for a query Logs Insights would refuse."""
    commands = parse_query(query)
    rows = list(records)
    scanned, size = len(rows), sum(len(str(r.get("@message", "")).encode()) for r in rows)
    shown: list[str] = []
    aggregated = False
    limit = DEFAULT_LIMIT
    for command in commands:
        rows, shown, aggregated, limit = _apply(command, rows, shown, aggregated, limit)
    columns = shown or ["@timestamp", "@message"]
    if not aggregated:
        columns = [*columns, "@ptr"] if "@ptr" not in columns else columns
    matched = len(rows)
    out = [[{"field": c, "value": _text(c, r[c])} for c in columns if r.get(c) is not None] for r in rows[:limit]]
    return QueryResult(out, scanned, matched, size)


def _apply(
    command: Command, rows: list[Record], shown: list[str], aggregated: bool, limit: int
) -> tuple[list[Record], list[str], bool, int]:
    name = command.name
    if name in ("fields", "display"):
        rows = [_with_items(row, command.items) for row in rows]
        names = [n for _, n in command.items]
        shown = names if name == "display" else [*shown, *(n for n in names if n not in shown)]
    elif name == "filter":
        rows = [row for row in rows if evaluate(command.condition, row) is True]
    elif name == "parse":
        rows = [_parsed(row, command) for row in rows]
    elif name == "sort":
        rows = _sorted(rows, command.items[0][0], command.descending)
    elif name == "limit":
        rows, limit = rows[: command.count], min(limit, command.count)
    else:
        rows, shown, aggregated = _stats(rows, command), [n for _, n in (*command.by, *command.items)], True
    return rows, shown, aggregated, limit


def _with_items(row: Record, items: list[tuple[Expr, str]]) -> Record:
    computed = [(e, n) for e, n in items if not (e.op == "field" and e.args[0] == n)]  # others are there already
    if not computed:
        return row
    out = dict(row)
    for expr, name in computed:
        value = evaluate(expr, row)
        if value is not None:
            out[name] = value
    return out


def _parsed(row: Record, command: Command) -> Record:
    value = evaluate(command.source, row)
    match = command.pattern.search(str(value)) if value is not None else None
    if match is None:
        return row
    groups = match.groupdict() if match.re.groupindex else dict(zip(command.names, match.groups(), strict=True))
    return {**row, **{k: v for k, v in groups.items() if v is not None}}


def _sorted(rows: list[Record], expr: Expr, descending: bool) -> list[Record]:
    keyed = [(evaluate(expr, row), row) for row in rows]
    present = [(k, r) for k, r in keyed if k is not None]
    numbers = [_number(k) for k, _ in present]
    if all(n is not None for n in numbers):  # numbers only (@timestamp): natural order is numeric order
        order = sorted(range(len(present)), key=lambda i: numbers[i], reverse=descending)  # type: ignore[arg-type,return-value]
        present = [present[i] for i in order]
    else:
        present.sort(key=cmp_to_key(lambda a, b: natural_compare(a[0], b[0])), reverse=descending)
    return [r for _, r in present] + [r for k, r in keyed if k is None]


def natural_compare(left: Any, right: Any) -> int:
    """The documented order: non-numbers before numbers (by value); between non-numbers, runs of
    digits against runs of digits by length then value, anything else by code point."""
    a, b = _number(left), _number(right)
    if a is not None or b is not None:
        return (a is not None) - (b is not None) or (a > b) - (a < b)  # type: ignore[operator]
    for x, y in zip(_CHUNK_RE.findall(str(left)), _CHUNK_RE.findall(str(right)), strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return 1 if (len(x), int(x)) > (len(y), int(y)) else -1
        return 1 if x > y else -1
    return (len(str(left)) > len(str(right))) - (len(str(left)) < len(str(right)))


def _stats(rows: list[Record], command: Command) -> list[Record]:
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for row in rows:
        key = tuple(evaluate(expr, row) for expr, _ in command.by)
        groups.setdefault(key, []).append(row)
    if not command.by and not groups:
        groups[()] = []
    out: list[Record] = []
    for key, members in groups.items():
        record: Record = {name: value for (_, name), value in zip(command.by, key, strict=True)}
        for expr, name in command.items:
            record[name] = _aggregate(expr, members)
        out.append(record)
    return out


def _aggregate(expr: Expr, rows: list[Record]) -> Any:
    if expr.op != "call" or expr.args[0] not in ("count", "count_distinct", "sum", "avg", "min", "max", "pct"):
        raise QueryError("stats takes aggregate functions: count, count_distinct, sum, avg, min, max, pct")
    function, args = expr.args
    if function == "count" and (not args or args[0].op == "star"):
        return len(rows)
    if not args:
        raise QueryError(f"{function}() needs a field")
    values = [v for row in rows if (v := evaluate(args[0], row)) is not None]
    if function == "count":
        return len(values)
    if function == "count_distinct":
        return len({str(v) for v in values})
    numbers = [n for v in values if (n := _number(v)) is not None]
    if function == "pct":
        if len(args) != 2 or args[1].op != "literal":
            raise QueryError("pct() takes a field and a percentile, e.g. pct(@duration, 99)")
        return percentile(numbers, float(args[1].args[0]))
    if not numbers:
        return None
    summary = {"sum": sum, "min": min, "max": max, "avg": lambda xs: sum(xs) / len(xs)}
    return summary[function](numbers)


def evaluate(expr: Expr | None, row: Record) -> Any:
    if expr is None:
        return None
    op, args = expr.op, expr.args
    if op == "field":
        return row.get(args[0])
    if op == "literal":
        return args[0]
    if op == "duration":
        return _duration_seconds(args[0])
    if op in ("and", "or"):
        left = evaluate(args[0], row) is True
        if op == "and":
            return left and evaluate(args[1], row) is True
        return left or evaluate(args[1], row) is True
    if op == "not":
        return evaluate(args[0], row) is not True
    if op in ("=", "!=", "<", "<=", ">", ">="):
        return _compare(op, evaluate(args[0], row), evaluate(args[1], row))
    if op == "in":
        value = evaluate(args[0], row)
        return value is not None and any(_compare("=", value, evaluate(item, row)) for item in args[1].args)
    if op in ("like", "=~"):
        value = evaluate(args[0], row)
        if value is None:
            return False
        pattern = args[1]
        if pattern.op == "regex":
            return pattern.args[0].search(str(value)) is not None
        return str(pattern.args[0]) in str(value)
    if op in ("+", "-", "*", "/", "%", "neg"):
        return _arithmetic(op, [evaluate(a, row) for a in args])
    if op == "call":
        return _call(args[0], args[1], row)
    raise QueryError(f"{op!r} cannot be used here")


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        return False
    a, b = _number(left), _number(right)
    if a is None or b is None:
        a, b = str(left), str(right)
    return {
        "=": a == b,
        "!=": a != b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[op]


def _arithmetic(op: str, values: list[Any]) -> float | None:
    numbers = [_number(v) for v in values]
    if any(n is None for n in numbers):
        return None
    if op == "neg":
        return -numbers[0]  # type: ignore[operator]
    a, b = numbers
    if op in ("/", "%") and b == 0:
        return None
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b, "%": a % b}[op]  # type: ignore[operator]


def _call(name: str, args: tuple[Expr, ...], row: Record) -> Any:
    values = [evaluate(a, row) for a in args]
    if name == "ispresent":
        return values[0] is not None
    if name == "isempty":
        return values[0] is None or values[0] == ""
    if name == "coalesce":
        return next((v for v in values if v is not None), None)
    if name == "concat":
        return "".join(str(v) for v in values if v is not None)
    if values and values[0] is None:
        return None
    if name in ("tolower", "toupper", "strlen"):
        text = str(values[0])
        return {"tolower": text.lower, "toupper": text.upper, "strlen": lambda: len(text)}[name]()
    if name in ("abs", "floor", "ceil"):
        number = _number(values[0])
        return None if number is None else {"abs": abs, "floor": math.floor, "ceil": math.ceil}[name](number)
    if name in ("bin", "datefloor"):
        stamp, span = (row.get("@timestamp"), values[0]) if name == "bin" else values[:2]
        if stamp is None or not span:
            return None
        step = int(float(span) * 1000)
        return int(stamp) // step * step
    raise QueryError(f"unsupported function {name}()")


def _duration_seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text)
    if not match:
        raise QueryError(f"{text!r} is not a time period such as 5m or 1h")
    return int(match[1]) * _DURATIONS[match[2]]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value[:1] in _NUMBER_START and _NUMBER_RE.fullmatch(value.strip()):
        return float(value)
    return None


def _text(name: str, value: Any) -> str:
    if name in ("@timestamp", "@ingestionTime") or (isinstance(value, int) and name.startswith("bin(")):
        moment = datetime.fromtimestamp(int(value) / 1000, UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
