"""Export records written by SQLite: JSON objects and CSV rows built in SQL, many to a
string, so that a large export costs Python one call per chunk rather than an object, a
dict and an encoder call per message.

Each record is exactly what bot/archive_export.py writes for the same row (its fields in
``FIELDS`` order, the same escaping: SQLite's JSON quoting and Python's with
``ensure_ascii=False`` agree on every code point); tests/test_export_sql.py holds the two
side by side. Readable formats (Markdown, HTML) and pseudonymised exports stay in Python.
"""

from __future__ import annotations

import json

from bot.archive_export import FIELDS, Encoding

BOOLEANS = frozenset({"anonymous", "private"})
# What a cell a spreadsheet would run as a formula starts with (neutralise_cell).
_FORMULA_CHARACTERS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = "'=', '+', '-', '@', char(9), char(13)"
# Python's csv module (QUOTE_MINIMAL) quotes a cell holding a comma, a quote or a line break.
_NEEDS_QUOTES = ("','", "'\"'", "char(10)", "char(13)")
_QUOTE = "'\"'"


def _json_value(name: str) -> str:
    if name in BOOLEANS:
        return f"(case when {name} then 'true' else 'false' end)"
    return f"json_quote({name})"  # NULL becomes null, as None does in Python


def _csv_value(name: str) -> str:
    if name in BOOLEANS:
        return f"(case when {name} then 'true' else 'false' end)"
    formula = f"substr({name}, 1, 1) in ({_FORMULA_START})"
    quoted = " or ".join(f"instr({name}, {c})" for c in _NEEDS_QUOTES)  # quicker than glob
    mark = "''''"  # one single quote, as an SQL literal
    # Most cells need neither quoting nor a mark: two cheap tests, then the value as it is.
    return (
        f"(case when {name} is null then ''"
        f" when {quoted} then {_QUOTE}"
        f" || (case when {formula} then {mark} else '' end)"
        f" || replace({name}, {_QUOTE}, '\"\"') || {_QUOTE}"
        f" when {formula} then {mark} || {name} else {name} end)"
    )


def record_sql(encoding: Encoding, *, careful: bool = True) -> str:
    """An SQL expression over columns named as ``FIELDS`` that is one record's text.
    Not ``careful``: CSV cells joined as they are, which is the record unless
    ``needs_care`` says otherwise (quoting each cell in SQL costs five times as much)."""
    if encoding == "csv":
        if not careful:
            return " || ',' || ".join(
                f"(case when {n} then 'true' else 'false' end)"
                if n in BOOLEANS
                else f"coalesce({n}, '')"
                for n in FIELDS
            )
        return " || ',' || ".join(_csv_value(n) for n in FIELDS)
    if encoding == "jsonl":
        # json_object is the quickest to build, and its separators are the compact ones.
        values = [f"json({_json_value(n)})" if n in BOOLEANS else n for n in FIELDS]
        pairs = ", ".join(f"'{n}', {v}" for n, v in zip(FIELDS, values, strict=True))
        return f"json_object({pairs})"
    # JSON keeps Python's default separators, ", " and ": ".
    template = "{" + ", ".join(f"{json.dumps(n)}: %s" for n in FIELDS) + "}"
    return f"printf('{template}', {', '.join(_json_value(n) for n in FIELDS)})"


def needs_care(encoding: Encoding, text: str, count: int) -> bool:
    """Whether ``count`` records written without care (joined by the format's separator)
    might differ from careful ones: some cell holds a comma, a quote or a line break (more
    than the separators and commas there are), or starts as a formula would."""
    if encoding != "csv":
        return False
    if (
        text.count(",") != count * (len(FIELDS) - 1)
        or text.count("\n") != count - 1
        or text.count("\r") != count - 1
        or '"' in text
    ):
        return True
    # With no comma or line break in a cell, a cell starts the text or follows one of them.
    return any(
        c in text and (text.startswith(c) or f",{c}" in text or f"\n{c}" in text)
        for c in _FORMULA_CHARACTERS
    )
