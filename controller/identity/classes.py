"""Each class's teacher, for the fever alarm: the ``[classes]`` table of ``controller.toml``.

```toml
[classes."初一(1)班"]
teacher = "李老师"
phone = "138 0013 8001"
```

The roster (roster_csv.py) gives a person's class; this table gives the
class's teacher and the phone to call. A class the table does not name has no
teacher on the alarm (the alarm says so), and a teacher's phone is checked
like a guardian's (7-15 digits). The table is read when the controller
starts: a change needs a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .checks import MAX_NAME, IdentityError, phone, text


@dataclass(frozen=True)
class ClassTeacher:
    """A class's teacher and the number to reach them at."""

    class_name: str
    teacher: str
    phone: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.teacher, "phone": self.phone}


def from_table(table: object) -> dict[str, ClassTeacher]:
    """``[classes]`` as read from TOML: {class name: {teacher, phone}}; IdentityError names the class and key."""
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise IdentityError("[classes] must be a table of classes, e.g. [classes.\"初一(1)班\"]")
    out: dict[str, ClassTeacher] = {}
    for name, entry in table.items():
        where = f"classes.{name!r}"
        class_name = text(str(name), f"{where}: the class name", limit=MAX_NAME)
        if not isinstance(entry, Mapping):
            raise IdentityError(f"{where} must be a table with teacher and phone")
        unknown = set(entry) - {"teacher", "phone"}
        if unknown:
            raise IdentityError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (teacher, phone)")
        teacher, number = entry.get("teacher", ""), entry.get("phone", "")
        if not isinstance(teacher, str) or not isinstance(number, str):
            raise IdentityError(f"{where}: teacher and phone are text")
        try:
            out[class_name] = ClassTeacher(class_name, text(teacher, "teacher"), phone(number))
        except IdentityError as exc:
            raise IdentityError(f"{where}: {str(exc).replace('guardian phone', 'phone')}") from None
    return out
