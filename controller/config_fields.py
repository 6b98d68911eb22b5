"""Configuration read through field tables: each key has one default, kind and range.

A :class:`Field` says what one key of a TOML table may hold; :func:`read_table`
checks a whole table against its fields (unknown keys, kinds, ranges) and
returns every key's value, its default where it is not written. Every problem
is a :class:`ConfigError` that names the table and the key. The per-gate
settings (``gate_settings.Setting``) are the same idea for ``gates.toml``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A configuration file, table or value that cannot be used; the message names it."""


@dataclass(frozen=True)
class Field:
    """One key of a table: its kind (a type or a tuple of types), its default and what it may be.

    ``lo``/``hi`` bound a number (``unit`` follows the range in the message); ``check`` is any
    other rule, with ``hint`` saying what it wants ("must not be empty")."""

    key: str
    kind: type | tuple[type, ...]
    default: Any
    lo: float | None = None
    hi: float | None = None
    unit: str = ""
    check: Callable[[Any], bool] | None = None
    hint: str = ""

    def read(self, table: dict, section: str) -> Any:
        """This key's value in ``table`` (the default when absent), checked; ConfigError if not usable."""
        if self.key not in table:
            return self.default
        value = table[self.key]
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise ConfigError(f"{section}.{self.key} must be {names}, got {value!r}")
        if self.lo is not None and self.hi is not None and not self.lo <= value <= self.hi:
            unit = f" {self.unit}" if self.unit else ""
            raise ConfigError(f"{section}.{self.key} = {value!r}: must be {_num(self.lo)}..{_num(self.hi)}{unit}")
        if self.check is not None and not self.check(value):
            raise ConfigError(f"{section}.{self.key} = {value!r}: {self.hint}")
        return value


def defaults(fields: tuple[Field, ...]) -> dict[str, Any]:
    """Every field's default by key: what a dataclass built from the table starts from."""
    return {f.key: f.default for f in fields}


def table_of(doc: dict, section: str, known, where: str = "") -> dict:
    """The ``[section]`` table of a document ({} when absent); ConfigError if it is not a table or has
    a key not in ``known``. ``where`` (the file, ``"path: "``) goes before the message."""
    table = doc.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}[{section}] must be a table")
    unknown = set(table) - set(known)
    if unknown:
        raise ConfigError(f"{where}unknown key(s) in [{section}]: {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(known))})")
    return table


def read_table(doc: dict, section: str, fields: tuple[Field, ...], where: str = "") -> dict[str, Any]:
    """Every field of ``[section]``, read and checked: {key: value or its default}."""
    table = table_of(doc, section, {f.key for f in fields}, where)
    return {f.key: f.read(table, section) for f in fields}


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"
