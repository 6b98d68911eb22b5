"""A pure-Python MQTT broker for the demo, when mosquitto is not installed.

``EmbeddedBroker`` runs amqtt (MQTT 3.1.1, which is all the gates and the
controller speak) in a background thread with its own asyncio loop, on a free
loopback port, anonymous clients allowed. It has the interface of
:class:`sim.broker.MosquittoBroker` that the demo and the tools use: ``host``,
``port``, ``url``, ``start()``, ``stop()``, ``close()`` and ``with``.

It is for a demo on a laptop, not for a site: it keeps nothing on disk, has no
access control, and carries far fewer messages per second than mosquitto.
:func:`start_demo_broker` picks mosquitto when it is there.

amqtt 0.12.1 sends a connecting client the retained messages matching *every
other client's* subscriptions (``Broker`` iterates its global subscription
table when a client connects, not the client's own subscriptions; see
docs/broker.md, "The demo's embedded broker"). :class:`_RetainedFix` works
around it: retained messages go only to a client subscribed to a matching
filter, as MQTT 3.1.1 (3.3.1.3) says.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

from .broker import BrokerError, MosquittoBroker, find_mosquitto, free_port

DEMO_BROKER_ENV = "THERMOGATE_DEMO_BROKER"  # "mosquitto", "embedded" or unset (mosquitto if installed)
START_TIMEOUT_S = 10.0


class EmbeddedBroker:
    """``with EmbeddedBroker() as broker: ... broker.port ...`` -- amqtt in a thread of this process."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port(host)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _config(self) -> dict:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            # Only anonymous authentication: no $SYS publisher, no packet logger.
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        broker = _broker_class()(self._config())
        try:
            await broker.start()
        except BaseException as exc:  # reported to start() in the caller's thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stopping.wait()
        await broker.shutdown()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_quiet_client_errors)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    def start(self, timeout: float = START_TIMEOUT_S) -> EmbeddedBroker:
        """Start the broker and wait until it accepts connections; BrokerError if it cannot."""
        if self.running:
            return self
        try:
            import amqtt  # noqa: F401
        except ImportError:
            raise BrokerError("neither mosquitto nor amqtt is installed: install one (Debian: sudo apt-get "
                              "install mosquitto; or the demo's extra, pip install 'thermogate[demo]', "
                              "which make demo installs)") from None
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name=f"embedded-broker-{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            error = self._error
            self.stop()
            raise BrokerError(f"the embedded MQTT broker did not start on {self.host}:{self.port}: "
                              f"{error or f'no answer within {timeout:g} s'}")
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._error is None

    def stop(self) -> None:
        """Shut the broker down (its clients are disconnected; retained messages are forgotten)."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and thread.is_alive():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop has already closed
                pass
        thread.join(timeout=10)
        if thread.is_alive():
            logging.getLogger(__name__).warning("the embedded MQTT broker did not stop within 10 s")
        self._thread = self._loop = self._stopping = None

    def kill(self) -> None:
        """As :meth:`stop`: a broker inside this process cannot crash on its own."""
        self.stop()

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def log(self) -> str:
        """amqtt logs through :mod:`logging` (logger ``amqtt``), not to a file."""
        return ""

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def _broker_class():
    """amqtt's Broker, with retained messages sent only to the subscriptions they match (module docstring)."""
    from amqtt.broker import Broker

    class _RetainedFix(Broker):
        async def _publish_retained_messages_for_subscription(self, subscription, session) -> None:
            # amqtt calls this on connect once per filter *any* client holds; only the session's own
            # filters may deliver (on SUBSCRIBE the filter has just been added for this session).
            holders = self._subscriptions.get(subscription[0], ())
            if not any(s.client_id == session.client_id for s, _qos in holders):
                return
            await super()._publish_retained_messages_for_subscription(subscription, session)

    return _RetainedFix


def start_demo_broker(port: int | None = None, host: str = "127.0.0.1",
                      kind: str | None = None) -> MosquittoBroker | EmbeddedBroker:
    """A started broker for the demo: mosquitto if installed, else the embedded one.

    ``kind`` ("mosquitto" or "embedded"; default $THERMOGATE_DEMO_BROKER, else
    automatic) forces one. ``port`` None means a free port. The caller ends it
    with ``close()``."""
    kind = kind or os.environ.get(DEMO_BROKER_ENV) or None
    if kind not in (None, "mosquitto", "embedded"):
        raise BrokerError(f"unknown demo broker {kind!r}: use mosquitto or embedded")
    if kind is None:
        try:
            find_mosquitto()
            kind = "mosquitto"
        except BrokerError:
            kind = "embedded"
    broker: MosquittoBroker | EmbeddedBroker
    # mosquitto in a session of its own: a Ctrl-C at the terminal must not stop it before the gates and
    # the controller (they would see their broker vanish and report the gates offline).
    broker = MosquittoBroker(port, host, own_session=True) if kind == "mosquitto" else EmbeddedBroker(port, host)
    try:
        return broker.start()
    except BaseException:
        broker.close()
        raise


def _quiet_client_errors(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """amqtt 0.12 can raise inside a client's connection handler while another client disconnects
    (it iterates its subscriptions as they change). Only that one connection is lost; log it quietly
    instead of printing a traceback over the demo's output."""
    import logging

    logging.getLogger("thermogate.embedded_broker").debug("broker connection error: %s", context.get("message"),
                                                         exc_info=context.get("exception"))
