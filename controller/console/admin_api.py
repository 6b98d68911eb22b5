"""The console's JSON API for admins: the settings (fever threshold, retention) and the console's users (add,
role, password, remove; never the last admin), each change audited.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..store.passwords import weakness
from ..store.records import ROLES
from .api_part import ApiPart
from .auth import COOKIE, Session
from .web import Bad, json_body, number_field, ok, text_field


def _password(data: dict, name: str = "") -> str:
    password = data.get("password")
    if not isinstance(password, str) or len(password) < 8:
        raise Bad("err_password_short", "a password needs at least 8 characters")
    if len(password) > 256:
        raise Bad("err_invalid", "a password must be at most 256 characters")
    problem = weakness(password, name)
    if problem is not None:
        raise Bad("err_password_weak", problem)
    return password


class AdminApi(ApiPart):
    """Settings and users."""

    async def settings(self, request: Request, session: Session):
        def run():
            return {"threshold_c": self.console.threshold_c(), "retention_days": self.service.config.retention_days,
                    "timezone": self.service.config.timezone, "config_file": str(self.service.config.path or ""),
                    "gates": [{"id": g.id, "name": g.name, "location": g.location, "variant": g.variant,
                               "simulated": g.simulated} for g in self.service.gates.values()],
                    "users": [{"name": u.name, "role": u.role, "created_at": u.created_at}
                              for u in self.store.users()]}

        return ok(await run_in_threadpool(run))

    async def settings_change(self, request: Request, session: Session):
        data = await json_body(request)
        threshold = number_field(data, "threshold_c", lo=34.0, hi=39.0)
        if threshold is not None:
            threshold = round(threshold, 1)
        retention = number_field(data, "retention_days", lo=1, hi=3650)
        if retention is not None and retention != int(retention):
            raise Bad("err_invalid", "retention_days must be a whole number of days")
        if threshold is None and retention is None:
            raise Bad("err_invalid", "nothing to change")
        changed = await run_in_threadpool(self.service.apply_settings, session.user, threshold_c=threshold,
                                          retention_days=None if retention is None else int(retention))
        return ok({"changed": changed, "threshold_c": self.console.threshold_c(),
                   "retention_days": self.service.config.retention_days})

    async def user_add(self, request: Request, session: Session):
        data = await json_body(request)
        name = text_field(data, "name", required=True, limit=64)
        role = data.get("role")
        if role not in ROLES:
            raise Bad("err_invalid", f"role must be one of {', '.join(ROLES)}")
        classes = data.get("classes")
        if role == "teacher":  # a class teacher sees their classes only (docs/console.md)
            if not (isinstance(classes, list) and classes and all(isinstance(c, str) and c.strip() for c in classes)):
                raise Bad("err_invalid", "a teacher needs classes: a list of class names as on the roster")
        elif classes:
            raise Bad("err_invalid", f"classes are for a teacher, not a {role}")
        password = _password(data, name)

        def run():
            self.store.add_user(name, role, password)
            out = self.store.set_user_classes(name, classes) if role == "teacher" else []
            self.audit(session.user, "user_added", {"name": name, "role": role, **({"classes": out} if out else {})})
            return out

        got = await run_in_threadpool(run)
        return ok({"name": name, "role": role, **({"classes": got} if got else {})}, 201)

    async def user_role(self, request: Request, session: Session):
        name = request.path_params["name"]
        data = await json_body(request)
        role = data.get("role")
        if role not in ROLES:
            raise Bad("err_invalid", f"role must be one of {', '.join(ROLES)}")

        def run():
            with self.store.atomic():  # the check, the change and its audit row: one transaction
                if role != "admin":
                    self._keep_an_admin(name)
                self.store.set_role(name, role)
                self.audit(session.user, "user_role", {"name": name, "role": role})

        await run_in_threadpool(run)
        return ok({"name": name, "role": role})

    async def user_password(self, request: Request, session: Session):
        """A new password for a user. It needs the current password of whoever makes the change (the
        user's own, or the admin's), and it ends every other session of that user (the store's epoch)."""
        name = request.path_params["name"]
        data = await json_body(request)
        current = data.get("current_password")
        password = _password(data, name)

        def run():
            if not isinstance(current, str) or not current or len(current) > 256 or \
                    self.store.verify_user(session.user, current) is None:
                raise Bad("err_current_password", "your current password is needed for a password change", 403)
            self.store.set_password(name, password)  # moves the user's epoch on: their sessions end
            self.audit(session.user, "password_set", {"name": name})
            if name == session.user:  # this session goes on, the user's others end
                self.console.sessions.renew(request.cookies[COOKIE])
            else:
                self.console.sessions.end_user(name)

        await run_in_threadpool(run)
        return ok({"name": name})

    async def user_remove(self, request: Request, session: Session):
        name = request.path_params["name"]
        if name == session.user:
            raise Bad("err_self", "you cannot remove yourself")

        def run():
            with self.store.atomic():  # the check, the removal and its audit row: one transaction
                self._keep_an_admin(name)
                self.store.remove_user(name)
                self.audit(session.user, "user_removed", {"name": name})
            self.console.sessions.end_user(name)

        await run_in_threadpool(run)
        return ok({"removed": name})

    def _keep_an_admin(self, name: str) -> None:
        admins = [u.name for u in self.store.users() if u.role == "admin"]
        if admins == [name]:
            raise Bad("err_last_admin", "the last admin cannot be removed or demoted")


__all__ = ["AdminApi"]
