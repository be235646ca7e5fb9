"""What a rule of the wheel check finds."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(enum.Enum):
    OK = "ok"
    FAIL = "FAIL"
    SKIP = "skip"  # not looked at (a tool it runs is missing, or the file name has no tags): neither passed nor failed


@dataclass(frozen=True)
class Result:
    rule: str
    status: Status
    detail: str

    def __str__(self) -> str:
        return f"{self.status.value:<4} {self.rule}: {self.detail}"
