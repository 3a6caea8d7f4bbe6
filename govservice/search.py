"""Search keys for guides: Chinese text, full pinyin and initials, so ``社保``, ``shebao`` and ``sbk`` all find 社保卡.

A key is the normalised forms of each text joined by ``|`` (which no normalised form contains), stored in a
``search`` column and matched with ``ILIKE '%term%'``: a centre has about a hundred items, so a scan costs less
than keeping a trigram index.
"""

from __future__ import annotations

import re

#: Letters, digits and CJK ideographs survive normalisation; spaces and punctuation go.
_DROP = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")


def normalise(text: str) -> str:
    """Lower case, without spaces or punctuation (full-width letters and digits folded to ASCII)."""
    folded = "".join(chr(ord(char) - 0xFEE0) if "！" <= char <= "～" else char for char in text)
    return _DROP.sub("", folded.lower())


def forms(text: str) -> list[str]:
    """The text itself, its full pinyin and its initials, each normalised (empty forms dropped)."""
    # Imported here: pypinyin's dictionaries take ~55 MB, and only staff editing guides need them (not searches).
    from pypinyin import Style, lazy_pinyin

    plain = normalise(text)
    if not plain:
        return []
    full = normalise("".join(lazy_pinyin(plain)))
    initials = normalise("".join(lazy_pinyin(plain, style=Style.FIRST_LETTER)))
    result = []
    for form in (plain, full, initials):
        if form and form not in result:
            result.append(form)
    return result


def search_key(*texts: str) -> str:
    """The value of a ``search`` column for the given texts (name, code, keywords …)."""
    parts: list[str] = []
    for text in texts:
        for piece in re.split(r"[\s,，、;；/]+", text or ""):
            for form in forms(piece):
                if form not in parts:
                    parts.append(form)
    return "|".join(parts)


def query_pattern(query: str) -> str | None:
    """An ``ILIKE`` pattern for a user's query, or None when nothing searchable is left.

    Only letters, digits and ideographs survive ``normalise``, so no ``%``, ``_`` or ``\\`` reaches the pattern.
    """
    term = normalise(query)
    return f"%{term}%" if term else None
