"""Spreadsheet formulas as small trees: openpyxl's tokenizer, then precedence climbing over its tokens."""
from __future__ import annotations

from dataclasses import dataclass

from openpyxl.formula.tokenizer import Token, Tokenizer, TokenizerError


class FormulaError(ValueError):
    """A formula this reader cannot parse; the caller names the cell."""


@dataclass(frozen=True)
class Ref:
    text: str  # as written: B3, $B$3:$P$17, 'my sheet'!B3, a defined name


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Call:
    name: str  # upper case, without Excel's _xlfn. prefix
    args: tuple


@dataclass(frozen=True)
class Binary:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Unary:
    op: str  # "-", "+" before an operand; "%" after one
    operand: object


# Excel's binary operators, loosest first; a prefix minus binds tighter than all of them (=-2^2 is 4).
# Excel nests functions at most 64 levels deep; a formula nesting brackets, functions or signs deeper is refused,
# and so is a tree deeper than MAX_DEPTH (a long chain of + makes one), before anything recurses through it.
MAX_NESTING = 64
MAX_DEPTH = 256
PRECEDENCE = {"=": 1, "<>": 1, "<": 1, ">": 1, "<=": 1, ">=": 1, "&": 2, "+": 3, "-": 3, "*": 4, "/": 4, "^": 5}


def parse(formula: str):
    """The tree of a formula such as '=IF(B3="",0,MMULT($X3:$AB3,C$1:C$5))'."""
    try:
        tokens = [t for t in Tokenizer(formula).items if t.type != Token.WSPACE]
    except TokenizerError as exc:
        raise FormulaError(str(exc)) from None
    parser = _Parser(tokens)
    tree = parser.expression(1)
    if parser.peek() is not None:
        raise FormulaError(f"unexpected {parser.peek().value!r}")
    if depth(tree) > MAX_DEPTH:
        raise FormulaError(f"is more than {MAX_DEPTH} operations deep")
    return tree


def sqrt_of(text: str):
    """The argument's tree of a formula =SQRT(x) (a loss cell), or None for any other formula or one that does not
    parse."""
    try:
        tree = parse(text)
    except FormulaError:
        return None
    if isinstance(tree, Call) and tree.name == "SQRT" and len(tree.args) == 1:
        return tree.args[0]
    return None


def depth(tree) -> int:
    """How many nodes deep the tree is, counted without recursion (a crafted tree may be thousands deep)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        children = node.args if isinstance(node, Call) else (node.left, node.right) if isinstance(node, Binary) \
            else (node.operand,) if isinstance(node, Unary) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens, self.at, self.nesting = tokens, 0, 0

    def nest(self) -> None:
        """One level deeper (a bracket, a function or a sign); past Excel's limit the formula is refused."""
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise FormulaError(f"nests brackets, functions or signs more than {MAX_NESTING} levels deep "
                               "(Excel's limit)")

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise FormulaError("ends too early")
        self.at += 1
        return token

    def expression(self, least: int):
        left = self.unary()
        while (t := self.peek()) is not None and t.type == Token.OP_IN and PRECEDENCE.get(t.value, 0) >= least:
            self.take()
            left = Binary(t.value, left, self.expression(PRECEDENCE[t.value] + 1))  # left-associative
        return left

    def unary(self):
        token = self.peek()
        if token is not None and token.type == Token.OP_PRE:
            self.take()
            self.nest()
            operand = self.unary()
            self.nesting -= 1
            return Unary(token.value, operand)
        node = self.primary()
        while (t := self.peek()) is not None and t.type == Token.OP_POST:
            self.take()
            node = Unary(t.value, node)
        return node

    def primary(self):
        token = self.take()
        if token.type == Token.OPERAND:
            if token.subtype == Token.RANGE:
                return Ref(token.value)
            if token.subtype == Token.NUMBER:
                return Num(float(token.value))
            if token.subtype == Token.TEXT:
                return Text(token.value[1:-1].replace('""', '"'))
            return Text(token.value)  # TRUE, FALSE, #N/A: nothing this reader looks for
        if token.type == Token.FUNC and token.subtype == Token.OPEN:
            name = token.value[:-1].upper().removeprefix("_XLFN.").removeprefix("_XLWS.")
            self.nest()
            args = self.arguments()
            self.nesting -= 1
            if name == "SINGLE" and len(args) == 1:
                return args[0]  # Excel 365 saves "@x" as _xlfn.SINGLE(x); for one cell's value it is x itself
            return Call(name, args)
        if token.type == Token.PAREN and token.subtype == Token.OPEN:
            self.nest()
            inner = self.expression(1)
            if self.take().type != Token.PAREN:
                raise FormulaError("a bracket is not closed")
            self.nesting -= 1
            return inner
        raise FormulaError(f"unexpected {token.value!r}")

    def arguments(self) -> tuple:
        args = []
        if (t := self.peek()) is not None and t.type == Token.FUNC and t.subtype == Token.CLOSE:
            self.take()
            return ()
        while True:
            args.append(self.expression(1))
            token = self.take()
            if token.type == Token.FUNC and token.subtype == Token.CLOSE:
                return tuple(args)
            if token.type != Token.SEP or token.subtype != Token.ARG:
                raise FormulaError(f"unexpected {token.value!r} in a function's arguments")
