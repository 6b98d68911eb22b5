"""The console's JSON API, the doors: a manual opening for a few seconds with a reason, a gate held locked or
released, and the door actions' list (each audited; a door held locked never opens).
"""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .api_part import MAX_ROWS, ApiPart, gate_param
from .auth import Session
from .backend import DoorHeld
from .web import Bad, json_body, local_time, number_field, ok, text_field, time_param

MAX_DOOR_MS = 30000  # the longest manual opening

class DoorsApi(ApiPart):
    """The doors."""

    async def door_open(self, request: Request, session: Session):
        gate = request.path_params["gate"]
        data = await json_body(request)
        reason = text_field(data, "reason", required=True)
        ms = number_field(data, "ms", lo=100, hi=MAX_DOOR_MS)
        try:
            action = await run_in_threadpool(self.service.manual_open, gate, session.user, reason,
                                             None if ms is None else int(ms))
        except DoorHeld as exc:  # "open once" does not override a hold: release it first
            raise Bad("err_door_held", str(exc), 409) from None
        return ok({"gate": gate, "action": "open", "ms": action.arg, "counter": action.counter})

    async def door_lock(self, request: Request, session: Session):
        gate = request.path_params["gate"]
        data = await json_body(request)
        reason = text_field(data, "reason", required=True)
        locked = data.get("locked")
        if not isinstance(locked, bool):
            raise Bad("err_invalid", "locked must be true or false")
        await run_in_threadpool(self.service.set_lock, gate, locked, session.user, reason)
        return ok({"gate": gate, "locked": locked})

    async def door_actions(self, request: Request, session: Session):
        gate = gate_param(self.console, request)
        since = time_param(request, "since", self.tz)
        until = time_param(request, "until", self.tz)
        if since is None:
            since = time.time() - 86400

        def run():
            rows = self.store.door_actions(gate=gate, since=since, until=until)[-MAX_ROWS:][::-1]
            return [{"gate": a.gate, "time": a.time, "time_local": local_time(a.time, self.tz), "action": a.action,
                     "arg": a.arg, "cause": a.cause, "user": a.user, "reason": a.reason, "ack_ok": a.ack_ok,
                     "ack_reason": a.ack_reason, "screening_id": a.screening_id} for a in rows]

        return ok({"actions": await run_in_threadpool(run)})


__all__ = ["DoorsApi"]
