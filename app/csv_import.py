"""Shared pieces of the all-or-nothing CSV imports: decoding what Excel in China saves, and row error reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Errors listed back to the uploader at most; the count covers them all.
MAX_REPORTED = 200


@dataclass
class ImportReport:
    """Errors found while checking every row; nothing is imported unless it stays empty."""

    errors: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0

    def add(self, line: int, column: str, message: str) -> None:
        self.count += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append({"row": line, "column": column, "message": message})


def decode_csv(data: bytes) -> str | None:
    """The text of an uploaded CSV, or None when it is neither UTF-8 nor GBK.

    Excel in China saves "CSV" as GB18030 (GBK); UTF-8 (with or without BOM) is tried first.
    """
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None
