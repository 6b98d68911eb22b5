"""The console's JSON API for drills (docs/cases.md, "Drills"): an admin starts a drill at some gates with a
scenario, follows it among the cases on the doctor's phone page, and ends it with a debrief.

| route | permission | what |
|---|---|---|
| GET /api/drills | admin | the last 50 drills, newest first, with the scenarios and gates to start one with |
| POST /api/drills | admin | start one ``{gates, scenario}`` |
| GET /api/drills/{id} | admin | a drill |
| POST /api/drills/{id}/end | admin | end it ``{debrief}``: the settings it changed are put back |
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..cases.records import SCENARIOS
from .api_part import ApiPart, path_id
from .auth import Session
from .web import Bad, json_body, local_time, ok, text_field


class DrillsApi(ApiPart):
    def _drill_json(self, d) -> dict:
        return {**d.to_json(), "started_local": local_time(d.started_at, self.tz),
                "ended_local": local_time(d.ended_at, self.tz)}

    async def drills(self, request: Request, session: Session):
        def run():
            return [self._drill_json(self.cases.drill(d.id)) for d in self.cases.drills()[::-1][:50]]  # timed

        return ok({"drills": await run_in_threadpool(run), "scenarios": list(SCENARIOS), "gates": self.gate_choices()})

    async def drill(self, request: Request, session: Session):
        drill_id = path_id(request, "drill_id")
        d = await run_in_threadpool(self.cases.drill, drill_id)
        if d is None:
            raise Bad("err_not_found", f"no drill {drill_id}", 404)
        return ok(self._drill_json(d))

    async def drill_start(self, request: Request, session: Session):
        body = await json_body(request)
        gates = body.get("gates")
        scenario = body.get("scenario")
        if not isinstance(gates, list) or not gates or not all(isinstance(g, str) for g in gates):
            raise Bad("err_invalid", "gates must be a list of gate ids")
        if scenario not in SCENARIOS:
            raise Bad("err_invalid", f"scenario must be one of {', '.join(SCENARIOS)}")
        for g in gates:
            if g not in self.service.gates:
                raise Bad("err_invalid", f"no gate {g!r}")
        d = await run_in_threadpool(self.service.drills.start, session.user, gates, scenario)
        return ok(self._drill_json(await run_in_threadpool(self.cases.drill, d.id)))

    async def drill_end(self, request: Request, session: Session):
        drill_id = path_id(request, "drill_id")
        body = await json_body(request)
        debrief = text_field(body, "debrief", limit=20000)
        restored = await run_in_threadpool(self.service.drills.end, drill_id, session.user, debrief)
        d = await run_in_threadpool(self.cases.drill, drill_id)
        return ok({**self._drill_json(d), "restored": restored})
