"""Prometheus metrics: prefix ``thermogate_``, base units, the gate as a label, never a person.

Messages from unknown gate ids are counted without a label: those ids come
from the network, and a label per id would let anyone grow the metric set.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.frames = Counter("thermogate_frames", "Frame messages received", ["gate"], registry=r)
        self.frames_dropped = Counter(
            "thermogate_frames_dropped", "Frames lost: 'queue' (dropped here, the controller was behind) or "
            "'sequence' (never arrived: gaps in the gate's sequence numbers)", ["gate", "where"], registry=r)
        self.decode_errors = Counter("thermogate_decode_errors", "Messages refused, by reason",
                                     ["gate", "reason"], registry=r)
        self.unauthenticated = Counter(
            "thermogate_unauthenticated_messages", "Protocol version 1 (unauthenticated) messages accepted under "
            "[site] accept_protocol_v1", ["gate"], registry=r)
        self.recalibrations = Counter("thermogate_sensor_recalibrations",
                                      "Authenticated EEPROMs that differ from the one before", ["gate"], registry=r)
        self.counter_resyncs = Counter("thermogate_counter_resyncs", "Command counters raised past a gate's "
                                       "'last' after a replayed refusal", ["gate"], registry=r)
        self.unknown_gate = Counter("thermogate_unknown_gate_messages",
                                    "Messages from gate ids this controller does not serve", registry=r)
        self.decisions = Counter("thermogate_decisions", "Screening decisions", ["gate", "decision"], registry=r)
        self.credentials = Counter(
            "thermogate_credentials", "Credential messages: 'accepted', or the refusal (a decode reason, 'stale')",
            ["gate", "result"], registry=r)
        self.latency = Histogram(
            "thermogate_decision_latency_seconds", "From the deciding frame's arrival to its door command",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0), registry=r)
        self.commands = Counter("thermogate_commands", "Commands sent to gates", ["gate", "action"], registry=r)
        self.acks = Counter("thermogate_command_acks", "Command outcomes: ok, a refusal reason, or missing",
                            ["gate", "result"], registry=r)
        self.gates_online = Gauge("thermogate_gates_online", "Gates sending frames now", registry=r)
        self.gates_known = Gauge("thermogate_gates_known", "Gates this controller serves", registry=r)
        self.refresh_hz = Gauge("thermogate_gate_refresh_hz", "The gate's sensor refresh rate in subpages a "
                                "second, as its last status said (screening needs 4 or more)", ["gate"], registry=r)
        self.alerts_open = Gauge("thermogate_alerts_open", "Alerts waiting for a person", registry=r)
        self.alarms_open = Gauge("thermogate_alarms_open", "Fever alarms not yet disposed", registry=r)
        self.backlog = Gauge("thermogate_frame_backlog", "Frames waiting to be processed", registry=r)
        self.mqtt_connected = Gauge("thermogate_mqtt_connected", "1 while connected to the broker", registry=r)
        self.store_errors = Counter("thermogate_store_errors", "Failed writes to the store", ["operation"],
                                    registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
