"""How wide a LaTeX table will be, estimated from glyph widths, to choose ``table`` or ``table*`` before LaTeX runs.

Widths are those of Computer Modern at ``\\small`` in a 10pt ``article`` (what ``table.tex`` sets), measured with
pdflatex (``\\settowidth`` of each printable ASCII character, roman and bold). Kerning and ligatures are ignored,
so estimates carry a small margin; ``table.tex`` itself scales a table that still overflows.
"""
from __future__ import annotations

COLUMN_WIDTH_PT = 229.5  # \columnwidth of \documentclass[twocolumn]{article} (10pt)
PAGE_WIDTH_PT = 469.0  # its \textwidth
TABCOLSEP_PT = 4.0  # table.tex sets \tabcolsep to this
MARGIN = 1.03  # for kerning and rounding

# Characters 32 (space) to 126, \small roman and \small bold (pt).
_ROMAN = ("3.08 2.57 4.62 7.71 4.62 7.71 7.19 2.57 3.6 3.6 4.62 7.19 2.57 3.08 2.57 4.62 4.62 4.62 4.62 4.62 4.62 "
          "4.62 4.62 4.62 4.62 4.62 2.57 2.57 7.19 7.19 7.19 4.37 7.19 6.94 6.55 6.68 7.07 6.29 6.04 7.26 6.94 3.34 "
          "4.75 7.19 5.78 8.48 6.94 7.19 6.29 7.19 6.81 5.14 6.68 6.94 6.94 9.51 6.94 6.94 5.65 2.57 4.62 2.57 4.62 "
          "3.33 2.57 4.62 5.14 4.11 5.14 4.11 2.83 4.62 5.14 2.57 2.83 4.88 2.57 7.71 5.14 4.62 5.14 4.88 3.62 3.65 "
          "3.6 5.14 4.88 6.68 4.88 4.88 4.11 4.62 2.57 4.62 4.62")
_BOLD = ("3.55 3.24 5.56 8.87 5.32 8.87 8.28 2.96 4.14 4.14 5.32 8.28 2.96 3.55 2.96 5.32 5.32 5.32 5.32 5.32 5.32 "
         "5.32 5.32 5.32 5.32 5.32 2.96 2.96 8.28 8.28 8.28 5.03 8.28 8.04 7.57 7.69 8.16 6.99 6.69 8.37 8.32 4.02 5.5 "
         "8.33 6.4 10.09 8.32 8 7.27 8 7.98 5.92 7.41 8.18 8.04 10.99 8.04 8.04 6.51 2.96 5.32 2.96 5.32 3.83 2.96 "
         "5.18 5.92 4.73 5.92 4.89 3.25 5.32 5.92 2.96 3.25 5.62 2.96 8.87 5.92 5.32 5.92 5.62 4.39 4.2 4.14 5.92 5.62 "
         "7.69 5.62 5.62 4.73 5.32 2.96 5.32 5.32")
ROMAN = {chr(32 + i): float(w) for i, w in enumerate(_ROMAN.split())}
BOLD = {chr(32 + i): float(w) for i, w in enumerate(_BOLD.split())}
OTHER_PT = 7.5  # any other character (wider than most)
# A superscript marker group ${}^{\blacktriangle\mathrm{a}}$: its start, each triangle, each baseline letter.
MARK_START_PT, TRIANGLE_PT, LETTER_PT = 0.6, 4.7, 3.8


def text_width(text: str, bold: bool = False) -> float:
    """Points ``text`` (plain, before escaping) takes at ``\\small``."""
    widths = BOLD if bold else ROMAN
    return sum(widths.get(c, OTHER_PT) for c in text)


def marks_width(triangles: int, letters: int) -> float:
    return MARK_START_PT + TRIANGLE_PT * triangles + LETTER_PT * letters if triangles else 0.0


def table_width(columns: list[float], groups: list[tuple[int, int, float]] = ()) -> float:
    """The width of a tabular with ``@{}`` at both ends, columns of the given content widths, and headers
    spanning columns ``[first, last]`` that need ``width`` each (a wide group header widens its last column)."""
    columns = list(columns)
    for first, last, width in groups:
        span = sum(columns[first:last + 1]) + 2 * TABCOLSEP_PT * (last - first)
        if width > span:
            columns[last] += width - span
    return MARGIN * (sum(columns) + 2 * TABCOLSEP_PT * (len(columns) - 1))
