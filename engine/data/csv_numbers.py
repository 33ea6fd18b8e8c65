"""Plain numbers in CSV bytes, parsed by a loop that numba compiles: the quick read's parser where numba is installed.

It reads only the plainest text: fields of digits with an optional leading minus, decimals written with a point
(no exponent, at most 15 significant digits), lines ending in LF or CRLF, every line with the same number of
fields, no quote in a field it skips. Anything else, it gives up on the piece (-1) and pyarrow's reader takes that
piece. A decimal is its digits as a whole number divided by a power of ten: both are exact in a double, so the
quotient is the correctly rounded value of the text, as pyarrow's and strtod's are.
"""
from __future__ import annotations

import numpy as np

try:
    from numba import njit
except ImportError:  # the quick read then parses with pyarrow alone
    njit = None

SKIP, INTEGER, DECIMAL = 0, 1, 2  # what a field is: skipped, or one of a column of whole numbers or of decimals
MAX_DIGITS = 15  # a decimal's digits (10**15 < 2**53: exact in a double); whole numbers have up to 18
_TENS = np.array([10.0 ** k for k in range(MAX_DIGITS + 1)])  # exact; a table, as a pow() a rating costs ~15 ns
_END, _NL, _CR, _QUOTE, _MINUS, _POINT, _ZERO, _NINE = b"\0\n\r\"-.09"  # bytes as numbers


def _parse(data: np.ndarray, sep: int, kinds: np.ndarray, slots: np.ndarray, ints: np.ndarray, reals: np.ndarray,
           at: int) -> int:
    """The rows of data[:-1] (data[-1] is a 0 byte, which ends every scan) written from row `at` on: field f of
    each into row slots[f] of `ints` (whole numbers) or of `reals` (decimals; the same memory) as kinds[f] says.
    How many rows, or -1 where the text is not of this plain kind."""
    n, i, row, last = len(data) - 1, 0, at, len(kinds) - 1
    while i < n:
        if row >= ints.shape[1]:
            return -1
        f = 0
        while True:
            kind, c = kinds[f], data[i]
            if kind == SKIP:
                while c != sep and c != _NL and c != _CR and c != _END:
                    if c == _QUOTE:
                        return -1  # a quoted field may hold a separator or a line break
                    i += 1
                    c = data[i]
            else:
                negative = c == _MINUS
                i += negative
                value, begin = 0, i
                c = data[i]
                while _ZERO <= c <= _NINE:
                    value = value * 10 + (c - _ZERO)
                    i += 1
                    c = data[i]
                digits, decimals = i - begin, 0
                if kind == DECIMAL and c == _POINT:
                    i += 1
                    after = i
                    c = data[i]
                    while _ZERO <= c <= _NINE:
                        value = value * 10 + (c - _ZERO)
                        i += 1
                        c = data[i]
                    decimals = i - after
                    digits += decimals
                if digits == 0 or digits > (MAX_DIGITS if kind == DECIMAL else 18):
                    return -1
                if kind == INTEGER:
                    ints[slots[f], row] = -value if negative else value
                else:
                    x = value / _TENS[decimals]
                    reals[slots[f], row] = -x if negative else x
            if f == last:
                break
            if c != sep:
                return -1  # fewer fields than the first line, or a field with more than a number in it
            i += 1
            f += 1
        if c == _CR:  # the line ends here: LF, CRLF, or the end of the data
            i += 1
            c = data[i]
            if c != _NL:
                return -1
        if c == _NL:
            i += 1
        elif i < n:
            return -1
        row += 1
    return row - at


parse = None if njit is None else njit(nogil=True, cache=True)(_parse)  # nogil: pieces parse side by side
