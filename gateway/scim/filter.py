"""SCIM filter and path text -> identity_api protobuf (RFC 7644 §3.4.2.2, §3.5.2); pure.

A small tokenizer and a recursive-descent parser with an explicit depth counter, so
hostile input fails fast with InvalidFilter (never RecursionError). Precedence is
`not` > `and` > `or`; `a and b and c` is one Conjunction of three operands, while
parentheses keep their grouping, so `render_filter` can print canonical text that
parses back to the same AST. Keywords, operators and `true`/`false`/`null` are
case-insensitive; attribute names are kept as sent (the identity service resolves
them case-insensitively). A path is one token: no spaces inside, nor around `[` or
`].`. Positions in messages count characters from 1.

One module over the usual size on purpose: the grammar, its tokenizer and its
printer change together, and split they would each be unreadable alone.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Final, NoReturn

from google.protobuf import struct_pb2

from gateway import errors
from identity_api.v1 import identity_pb2 as pb

MAX_FILTER_LENGTH: Final = 8192
# Each level costs protobuf up to two nesting levels, and gRPC decodes at most 100.
MAX_DEPTH: Final = 20

OPERATORS: Final[dict[str, pb.CompareOperator.ValueType]] = {
    "eq": pb.EQ, "ne": pb.NE, "co": pb.CO, "sw": pb.SW, "ew": pb.EW,
    "gt": pb.GT, "ge": pb.GE, "lt": pb.LT, "le": pb.LE, "pr": pb.PR,
}  # fmt: skip
_OPERATOR_NAMES: Final = {code: name for name, code in OPERATORS.items()}
_KEYWORDS: Final = frozenset({"and", "or", "not"})

# RFC 7643 §2.1 ATTRNAME, plus `$ref` (RFC 7643 §2.3.7).
_NAME = r"(?:[A-Za-z][A-Za-z0-9_-]*|\$[Rr][Ee][Ff])"
_PATH_RE: Final = re.compile(rf"(?P<attr>{_NAME})(?:\.(?P<sub>{_NAME}))?")
_SUB_RE: Final = re.compile(rf"\.(?P<sub>{_NAME})")
# A schema URN such as urn:ietf:params:scim:schemas:core:2.0:User.
_URI_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*(?::[A-Za-z0-9._~-]+)+")
_NUMBER_RE: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_TOKEN_RE: Final = re.compile(
    r'[ \t\r\n]*(?:(?P<punct>[()\[\]])|(?P<string>"(?:[^"\\]|\\[\s\S])*")'
    r'|(?P<word>[^ \t\r\n()\[\]"]+)|(?P<bad>")|\Z)'
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(", ")", "[", "]", "string", "word" or "end"
    text: str
    pos: int
    end: int
    value: str = ""  # the decoded JSON string of a "string" token


def parse_filter(text: str) -> pb.Filter:
    """Parse an RFC 7644 §3.4.2.2 filter; raises errors.InvalidFilter."""
    parser = _Parser(text, errors.InvalidFilter, "filter")
    if parser.peek().kind == "end":
        raise errors.InvalidFilter("empty filter")
    expr = parser.expression(in_brackets=False)
    parser.expect_end()
    return expr


def parse_patch_path(text: str) -> pb.PatchPath:
    """Parse an RFC 7644 §3.5.2 PATCH path; raises errors.InvalidPath."""
    return _Parser(text, errors.InvalidPath, "path").patch_path()


def parse_attribute_path(text: str) -> pb.AttributePath:
    """Parse `[uri:]attribute[.sub]` (sortBy, attributes); raises errors.InvalidValue."""
    try:
        return _split_path(text.strip(" \t"))
    except ValueError as exc:
        raise errors.InvalidValue(f"invalid attribute path {_clip(text)}: {exc}") from exc


def _split_path(text: str) -> pb.AttributePath:
    # RFC 7644 §3.10: the schema URI ends at the last colon before the attribute.
    uri, colon, rest = text.rpartition(":")
    if colon and not _URI_RE.fullmatch(uri):
        raise ValueError(f"{_clip(uri + colon)} is not a schema URI prefix")
    match = _PATH_RE.fullmatch(rest)
    if match is None:
        raise ValueError("expected ATTRIBUTE or ATTRIBUTE.SUBATTRIBUTE, optionally after a URI")
    return pb.AttributePath(
        schema_uri=uri, attribute=match["attr"], sub_attribute=match["sub"] or ""
    )


def _clip(text: str) -> str:
    return '"' + (text if len(text) <= 40 else text[:37] + "...") + '"'


def _tokenize(text: str, error: type[errors.ScimError]) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while True:
        match = _TOKEN_RE.match(text, pos)
        assert match is not None  # noqa: S101 -- the pattern's last branch always matches
        kind = match.lastgroup
        if kind is None:
            return [*tokens, _Token("end", "", len(text), len(text))]
        start, pos = match.span(kind)
        if kind == "bad":
            raise error(f"unterminated string starting at position {start + 1}")
        token_text = match[kind]
        token_kind = token_text if kind == "punct" else kind
        value = _decode_string(token_text, start, error) if kind == "string" else ""
        tokens.append(_Token(token_kind, token_text, start, pos, value))


def _decode_string(raw: str, start: int, error: type[errors.ScimError]) -> str:
    try:
        value: str = json.loads(raw, strict=False)
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(f"string at position {start + 1} has an unpaired \\u surrogate") from exc
    except ValueError as exc:
        raise error(f"invalid escape in string at position {start + 1}") from exc
    if "\x00" in value:
        raise error(f"string at position {start + 1} contains a NUL character")
    return value


def _literal(text: str) -> struct_pb2.Value | None:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return struct_pb2.Value(bool_value=lowered == "true")
    if lowered == "null":
        return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
    if _NUMBER_RE.fullmatch(text):
        number = float(text)
        return struct_pb2.Value(number_value=number) if math.isfinite(number) else None
    return None


def _filter_of(kind: str, operands: list[pb.Filter]) -> pb.Filter:
    if len(operands) == 1:
        return operands[0]
    expr = pb.Filter()
    getattr(expr, kind).operands.extend(operands)
    return expr


class _Parser:
    def __init__(self, text: str, error: type[errors.ScimError], subject: str) -> None:
        self.error = error
        self.subject = subject
        if len(text) > MAX_FILTER_LENGTH:
            raise error(f"{subject} too long: {len(text)} characters, at most {MAX_FILTER_LENGTH}")
        self.tokens = _tokenize(text, error)
        self.index = 0
        self.depth = 0

    def fail(self, message: str) -> NoReturn:
        raise self.error(message)

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def next(self) -> _Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def describe(self, token: _Token) -> str:
        if token.kind == "end":
            return f"end of {self.subject}"
        found = f"string {_clip(token.text[1:-1])}" if token.kind == "string" else _clip(token.text)
        return f"{found} at position {token.pos + 1}"

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token.kind == "word" and token.text.lower() == word:
            self.next()
            return True
        return False

    def expect(self, kind: str, opener: _Token) -> _Token:
        token = self.next()
        if token.kind != kind:
            where = f'to close "{opener.text}" at position {opener.pos + 1}'
            self.fail(f'expected "{kind}" {where}, found {self.describe(token)}')
        return token

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind != "end":
            expected = '"and", "or" or ' if self.subject == "filter" else ""
            expected += f"the end of the {self.subject}"
            self.fail(f"unexpected {self.describe(token)}; expected {expected}")

    def enter(self, opener: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} levels deep at position {opener.pos + 1}")

    def expression(self, *, in_brackets: bool) -> pb.Filter:
        operands = [self.conjunction(in_brackets=in_brackets)]
        while self.keyword("or"):
            operands.append(self.conjunction(in_brackets=in_brackets))
        return _filter_of("or", operands)

    def conjunction(self, *, in_brackets: bool) -> pb.Filter:
        operands = [self.unary(in_brackets=in_brackets)]
        while self.keyword("and"):
            operands.append(self.unary(in_brackets=in_brackets))
        return _filter_of("and", operands)

    def unary(self, *, in_brackets: bool) -> pb.Filter:
        token = self.peek()
        if self.keyword("not"):
            opener = self.next()
            if opener.kind != "(":
                self.fail(f'expected "(" after "not", found {self.describe(opener)}')
            expr = pb.Filter()
            getattr(expr, "not").operand.CopyFrom(self.group(opener, in_brackets=in_brackets))
            return expr
        if token.kind == "(":
            return self.group(self.next(), in_brackets=in_brackets)
        return self.attribute_expression(in_brackets=in_brackets)

    def group(self, opener: _Token, *, in_brackets: bool) -> pb.Filter:
        self.enter(opener)
        expr = self.expression(in_brackets=in_brackets)
        self.expect(")", opener)
        self.depth -= 1
        return expr

    def attribute(self, token: _Token, *, in_brackets: bool) -> pb.AttributePath:
        if token.kind != "word" or token.text.lower() in _KEYWORDS:
            self.fail(f"expected an attribute path, found {self.describe(token)}")
        try:
            path = _split_path(token.text)
        except ValueError as exc:
            self.fail(f"invalid attribute path {self.describe(token)}: {exc}")
        if in_brackets and (path.schema_uri or path.sub_attribute):
            self.fail(
                f'only sub-attribute names may appear inside "[...]", found {self.describe(token)}'
            )
        return path

    def attribute_expression(self, *, in_brackets: bool) -> pb.Filter:
        token = self.next()
        path = self.attribute(token, in_brackets=in_brackets)
        opener = self.peek()
        if opener.kind != "[" or opener.pos != token.end:
            return self.comparison(path, token)
        if in_brackets:
            self.fail(
                f'value filters cannot be nested: unexpected "[" at position {opener.pos + 1}'
            )
        inner, closer = self.brackets(path, token)
        sub = self.peek()
        if sub.kind == "word" and sub.pos == closer.end and sub.text.startswith("."):
            # Entra: `emails[type eq "work"].value eq "x"` means
            # `emails[type eq "work" and value eq "x"]` (outside RFC 7644's grammar).
            name = self.sub_attribute(self.next())
            extra = self.comparison(pb.AttributePath(attribute=name), sub)
            conjoined = list(getattr(inner, "and").operands) if inner.HasField("and") else [inner]
            inner = _filter_of("and", [*conjoined, extra])
        return pb.Filter(value_path=pb.ValuePathFilter(path=path, filter=inner))

    def brackets(self, path: pb.AttributePath, token: _Token) -> tuple[pb.Filter, _Token]:
        if path.sub_attribute:
            self.fail(
                f'"[" must follow an attribute without a sub-attribute: {self.describe(token)}'
            )
        opener = self.next()
        self.enter(opener)
        inner = self.expression(in_brackets=True)
        closer = self.expect("]", opener)
        self.depth -= 1
        return inner, closer

    def sub_attribute(self, token: _Token) -> str:
        match = _SUB_RE.fullmatch(token.text)
        if match is None:
            self.fail(f'expected ".subAttribute" after "]", found {self.describe(token)}')
        return match["sub"]

    def comparison(self, path: pb.AttributePath, path_token: _Token) -> pb.Filter:
        token = self.next()
        operator = OPERATORS.get(token.text.lower()) if token.kind == "word" else None
        if operator is None:
            expected = f"an operator ({', '.join(OPERATORS)}) after {_clip(path_token.text)}"
            self.fail(f"expected {expected}, found {self.describe(token)}")
        comparison = pb.Comparison(path=path, operator=operator)
        if operator != pb.PR:
            comparison.value.CopyFrom(self.value(token))
        elif self.peek().kind == "string":
            self.fail(f'"pr" takes no value, found {self.describe(self.peek())}')
        return pb.Filter(comparison=comparison)

    def value(self, operator: _Token) -> struct_pb2.Value:
        token = self.next()
        if token.kind == "string":
            return struct_pb2.Value(string_value=token.value)
        value = _literal(token.text) if token.kind == "word" else None
        if value is None:
            expected = 'a "string", a number, true, false or null'
            self.fail(
                f"expected {expected} after {_clip(operator.text)}, found {self.describe(token)}"
            )
        return value

    def patch_path(self) -> pb.PatchPath:
        token = self.next()
        if token.kind == "end":
            self.fail("empty path")
        path = self.attribute(token, in_brackets=False)
        result = pb.PatchPath(
            schema_uri=path.schema_uri, attribute=path.attribute, sub_attribute=path.sub_attribute
        )
        opener = self.peek()
        if opener.kind == "[" and opener.pos == token.end:
            inner, closer = self.brackets(path, token)
            result.value_filter.CopyFrom(inner)
            sub = self.peek()
            if sub.kind == "word" and sub.pos == closer.end:
                result.sub_attribute = self.sub_attribute(self.next())
        self.expect_end()
        return result


# ---------------------------------------------------------------- rendering


def render_filter(expr: pb.Filter) -> str:
    """Canonical filter text: parse_filter(render_filter(x)) == x for every parsed x.

    Raises ValueError for an AST the parser could not have produced (an unset
    expression, fewer than two operands, `pr` with a value, ...).
    """
    return _render(expr, in_brackets=False)


def _render(expr: pb.Filter, *, in_brackets: bool) -> str:
    kind = expr.WhichOneof("expression")
    if kind == "comparison":
        return _render_comparison(expr.comparison, in_brackets=in_brackets)
    if kind in ("and", "or"):
        operands = getattr(expr, kind).operands
        if len(operands) < 2:
            raise ValueError(f"{kind} needs at least two operands")
        wrap = ("and", "or") if kind == "and" else ("or",)
        parts = [_render(op, in_brackets=in_brackets) for op in operands]
        parts = [
            f"({p})" if op.WhichOneof("expression") in wrap else p
            for op, p in zip(operands, parts, strict=True)
        ]
        return f" {kind} ".join(parts)
    if kind == "not":
        return f"not ({_render(getattr(expr, 'not').operand, in_brackets=in_brackets)})"
    if kind == "value_path" and not in_brackets:
        path = expr.value_path.path
        if path.sub_attribute:
            raise ValueError("a value path's attribute has no sub-attribute")
        return f"{_render_path(path)}[{_render(expr.value_path.filter, in_brackets=True)}]"
    raise ValueError(f"cannot render filter expression {kind!r} here")


def _render_comparison(comparison: pb.Comparison, *, in_brackets: bool) -> str:
    path = comparison.path
    if in_brackets and (path.schema_uri or path.sub_attribute):
        raise ValueError("inside a value path only sub-attribute names are allowed")
    operator = _OPERATOR_NAMES.get(comparison.operator)
    if operator is None:
        raise ValueError(f"unknown operator {comparison.operator}")
    if (operator == "pr") == comparison.HasField("value"):
        raise ValueError('"pr" takes no value; every other operator needs one')
    text = f"{_render_path(path)} {operator}"
    return text if operator == "pr" else f"{text} {_render_value(comparison.value)}"


def _render_path(path: pb.AttributePath) -> str:
    text = f"{path.schema_uri}:" if path.schema_uri else ""
    text += path.attribute + (f".{path.sub_attribute}" if path.sub_attribute else "")
    if text.lower() in _KEYWORDS or _split_path(text) != path:
        raise ValueError(f"attribute path {path} cannot be written as filter text")
    return text


def _render_value(value: struct_pb2.Value) -> str:
    kind = value.WhichOneof("kind")
    if kind == "null_value":
        return "null"
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "number_value":
        return _render_number(value.number_value)
    if kind == "string_value" and "\x00" not in value.string_value:
        return json.dumps(value.string_value, ensure_ascii=False)
    raise ValueError(f"a filter value is null, a boolean, a number or a string, not {kind}")


def _render_number(number: float) -> str:
    if not math.isfinite(number):
        raise ValueError(f"{number} is not a JSON number")
    if number == 0 and math.copysign(1.0, number) < 0:
        return "-0"
    if number.is_integer() and abs(number) < 2**53:
        return str(int(number))
    return repr(number)
