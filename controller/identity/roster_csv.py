"""The roster's CSV file: its header, its encodings (UTF-8 with or without BOM, GBK), reading and writing.

The header (one line, any column order; names are case-insensitive)::

    id,name,role,class,boarder,guardian_phone,credentials,active

``id``, ``name``, ``role`` and ``class`` are required; ``department`` may stand
for ``class``. ``boarder`` and ``active`` are yes/no (是/否; empty: boarder no,
active yes). ``credentials`` lists a person's credentials separated by ``;`` or
``|``: ``card:04A1B2C3`` (a card UID in hex), ``qr:TEXT`` or a bare TEXT (a QR
code). ``export`` writes the same header with every column, so what it writes
imports back unchanged. Text cells that start like a spreadsheet formula are
written with a leading ``'`` and read back without it (controller.reports).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from ..csv_safe import csv_cell, csv_uncell
from . import checks
from .checks import IdentityError
from .records import STUDENT, Person

HEADER = ("id", "name", "role", "class", "boarder", "guardian_phone", "credentials", "active")
REQUIRED = ("id", "name", "role", "class")
ALIASES = {"department": "class"}


@dataclass(frozen=True)
class RosterLine:
    """One data line of the file: the person it describes, or why it cannot be taken."""

    line: int  # 1-based, in the file (the header is line 1)
    person_id: str  # as written, for the report
    person: Person | None
    error: str | None = None


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The file's text and the encoding used: ``encoding`` if given, else UTF-8 (a BOM is dropped), else GBK.

    A file that is UTF-8 with a broken byte is not taken for GBK: it is refused, naming the line."""
    if encoding is not None:
        try:
            codec = codecs_name(encoding)
            return data.decode(codec).removeprefix("\ufeff"), codec  # --encoding utf-8 on a file with a BOM
        except UnicodeDecodeError as exc:
            raise IdentityError(f"line {_line_of(data, exc.start)}: not valid {encoding} "
                                f"(byte 0x{data[exc.start]:02x})") from None
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise IdentityError(f"line {_line_of(data, exc.start + 3)}: not valid UTF-8 after the UTF-8 mark "
                                f"(byte 0x{data[exc.start + 3]:02x})") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    loose = data[:first_bad].decode("utf-8", errors="strict")
    if any(ord(c) > 127 for c in loose):  # valid UTF-8 text before the bad byte: a damaged UTF-8 file
        raise IdentityError(f"line {_line_of(data, first_bad)}: not valid UTF-8 (byte 0x{data[first_bad]:02x}); "
                            "fix the file or give --encoding")
    try:
        return data.decode("gbk"), "gbk"
    except UnicodeDecodeError as exc:
        raise IdentityError(f"line {_line_of(data, exc.start)}: neither UTF-8 nor GBK "
                            f"(byte 0x{data[exc.start]:02x}); save the file as UTF-8 or give --encoding") from None


def codecs_name(encoding: str) -> str:
    import codecs

    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise IdentityError(f"unknown encoding {encoding!r} (use utf-8, utf-8-sig or gbk)") from None


def parse(text: str) -> list[RosterLine]:
    """Every data line of the file, each checked on its own. A bad header refuses the whole file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise IdentityError("the file is empty: the first line must be the header "
                            f"{','.join(HEADER)}") from None
    except csv.Error as exc:
        raise IdentityError(f"line 1: {exc}") from None
    names = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    unknown = [h for h in names if h not in HEADER]
    if unknown:
        raise IdentityError(f"line 1: unknown column(s) {', '.join(map(repr, unknown))}; the header is "
                            f"{','.join(HEADER)}")
    missing = [h for h in REQUIRED if h not in names]
    if missing:
        raise IdentityError(f"line 1: the header lacks {', '.join(missing)}; it is {','.join(HEADER)}")
    twice = sorted({h for h in names if names.count(h) > 1})
    if twice:
        raise IdentityError(f"line 1: column(s) {', '.join(twice)} appear twice")
    out: list[RosterLine] = []
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            out.append(RosterLine(line, "", None, str(exc)))
            break
        start, line = line, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            out.append(RosterLine(start, cells[0].strip() if cells else "", None,
                                  f"{len(cells)} cells, the header has {len(names)}"))
            continue
        row = {n: csv_uncell(c) for n, c in zip(names, cells, strict=True)}
        out.append(_person_line(start, row))
    return out


def _person_line(line: int, row: dict[str, str]) -> RosterLine:
    pid = row["id"].strip()
    try:
        person_role = checks.role(row["role"])
        class_name = checks.text(row["class"], "class", required=person_role == STUDENT)
        person = Person(
            id=checks.person_id(pid), name=checks.text(row["name"], "name"), role=person_role,
            class_name=class_name, boarder=checks.yes_no(row.get("boarder", ""), "boarder"),
            guardian_phone=checks.phone(row.get("guardian_phone", "")),
            active=checks.yes_no(row.get("active") or "yes", "active"),
            credentials=checks.credential_list(row.get("credentials", "")))
    except IdentityError as exc:
        return RosterLine(line, pid, None, str(exc))
    return RosterLine(line, pid, person)


def write(people: list[Person], out) -> None:
    """The roster as CSV with the full header (UTF-8; the caller opens ``out`` with newline='')."""
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(HEADER)
    for p in people:
        w.writerow([csv_cell(p.id), csv_cell(p.name), p.role, csv_cell(p.class_name), "yes" if p.boarder else "no",
                    csv_cell(p.guardian_phone), csv_cell(";".join(str(c) for c in p.credentials)),
                    "yes" if p.active else "no"])
