"""The live WebSocket (/ws): every gate's frames and every event, to one browser tab.

On connect the tab gets a ``hello`` (server time, every gate's summary, the
alarms not yet disposed), so a reload or a reconnection after a network or
controller restart starts from what is true now. Then:

- frames as binary messages (codec.encode_frame), only while the tab watches;
- decisions, alarms, gate changes, alerts and door acks as JSON text;
- every 2 s a ``gates`` message with every summary, so "time since the last
  frame" and online/offline stay right when a gate falls silent.

The handshake is refused (HTTP 403) without a live session, or from another
origin. The session is checked against the store every second: a logout, the
12 h / 24 h limits, the user's removal or a new password (from the console or
the CLI) close the tab's socket with code 4401.

Frames are dropped, never queued without bound: the hub keeps at most
``MAX_FRAMES // 8`` waiting frames per gate for this tab, and while the send of
one message is stuck on a slow network the next frames of that gate are
skipped by the hub. Whatever is waiting is taken at once: decisions and alarms
are sent first, then only the newest frame of each gate. The newest frame
always wins, so the lag cannot grow.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ..service.events import FrameEvent, LiveEvent
from .auth import COOKIE
from .codec import encode_frame
from .web import same_origin

log = logging.getLogger("thermogate.console.ws")

MAX_FRAMES = 16  # -> at most 2 frames waiting per gate
SUMMARY_EVERY_S = 2.0
CLOSE_LOGGED_OUT = 4401


def _jsonable(v):
    if isinstance(v, float):
        return v if v == v and v not in (float("inf"), float("-inf")) else None
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (str, int, bool)):
        return v
    try:
        return float(v)  # numpy scalars
    except (TypeError, ValueError):
        return str(v)


def dumps(message: dict) -> str:
    return json.dumps(_jsonable(message), separators=(",", ":"), ensure_ascii=False)


def _summaries(console) -> list[dict]:
    return [s.to_dict() for s in console.service.gate_summaries()]


async def live_socket(console, websocket: WebSocket) -> None:
    token = websocket.cookies.get(COOKIE)
    session = await run_in_threadpool(console.sessions.get, token)
    if session is None or not session.allows("view") or not same_origin(websocket.headers,
                                                                        websocket.headers.get("host")):
        await websocket.close(code=1008)  # before accept: the handshake is answered 403
        return
    await websocket.accept()
    service = console.service
    sub = service.live.subscribe(max_frames=MAX_FRAMES)
    console.sockets.add(websocket)
    reader = getter = None
    try:
        alarms = await run_in_threadpool(console.alarms.active_alarms)
        await websocket.send_text(dumps({"kind": "hello", "now": time.time(), "user": session.user,
                                         "role": session.role, "gates": _summaries(console),
                                         "alarms": alarms, "alerts": service.open_alerts(),
                                         "threshold_c": console.threshold_c()}))
        reader = asyncio.ensure_future(_drain_client(websocket))
        next_summary = time.monotonic() + SUMMARY_EVERY_S
        next_check = time.monotonic() + 1.0
        getter = asyncio.ensure_future(service.live.next_event(sub))
        while not reader.done():
            done, _ = await asyncio.wait({getter, reader}, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                events = [getter.result()]
                while not sub.queue.empty():  # everything already waiting, without suspending
                    events.append(await service.live.next_event(sub))
                getter = asyncio.ensure_future(service.live.next_event(sub))
                await _send(websocket, events)
            now = time.monotonic()
            if now >= next_check:
                next_check = now + 1.0
                # Logout, expiry (12 h idle, 24 h at most), removal or a new password, also from the CLI.
                if not await run_in_threadpool(console.sessions.valid, session.token_hash):
                    await websocket.close(code=CLOSE_LOGGED_OUT)
                    break
            if now >= next_summary:
                next_summary = now + SUMMARY_EVERY_S
                await websocket.send_text(dumps({"kind": "gates", "now": time.time(),
                                                 "gates": _summaries(console)}))
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    except Exception:
        log.exception("live socket failed")
    finally:
        # Whatever way this ends (the tab left, a send failed, the server is shutting down), no task of
        # this socket is left pending: a pending task at the loop's end prints "Task was destroyed".
        for task in (getter, reader):
            if task is not None and not task.done():
                task.cancel()
        service.live.unsubscribe(sub)
        console.sockets.discard(websocket)
        if websocket.application_state == WebSocketState.CONNECTED:
            try:
                await websocket.close()
            except Exception:
                pass


async def _send(websocket: WebSocket, events: list[LiveEvent]) -> None:
    """Events first, in order (an alarm never waits behind images), then each gate's newest frame."""
    frames: dict[str, FrameEvent] = {}
    for event in events:
        if isinstance(event, FrameEvent):
            frames[event.gate] = event  # a newer image of the same gate replaces an older one
        else:
            await websocket.send_text(dumps(event.to_dict()))
    for event in frames.values():
        await websocket.send_bytes(encode_frame(event))


async def _drain_client(websocket: WebSocket) -> None:
    """The tab sends nothing that matters (pings at most); this ends when it goes away."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except Exception:
        return
