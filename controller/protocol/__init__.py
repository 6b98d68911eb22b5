"""The wire protocol between gates and the controller (docs/protocol.md), version 2.

One data type per message on the wire, each with its codec:

- :class:`FrameMessage`, :class:`EepromMessage` -- binary, from the gate
- :class:`GateStatus` -- JSON heartbeat, from the gate (retained; LWT offline)
- :class:`Command` -- JSON, signed, to the gate
- :class:`Ack` -- JSON, from the gate, one per command
- :class:`~controller.protocol.result.Decision` -- JSON, from the controller on the ``result`` topic
  (``controller.protocol.result``, with its reason codes)

Everything from the gate is authenticated under the gate's sensor key
(:func:`sensor_key`, derived from its key K); decoders take that key.
Every decoder raises :class:`ProtocolError` with a short ``reason`` code
suitable for counting per gate.
"""

from .binary import EepromMessage, FrameMessage, decode_eeprom, decode_frame, encode_eeprom, encode_frame
from .commands import Ack, Command, ack_payload, decode_ack, sign_command
from .errors import ProtocolError
from .mac import UNVERIFIED, sensor_key
from .status import GateStatus, decode_status, status_payload
from .topics import TOPIC_ROOT, parse_topic, topic, valid_gate_id

__all__ = [
    "Ack", "Command", "EepromMessage", "FrameMessage", "GateStatus", "ProtocolError", "TOPIC_ROOT", "UNVERIFIED",
    "ack_payload", "decode_ack", "decode_eeprom", "decode_frame", "decode_status", "encode_eeprom", "encode_frame",
    "parse_topic", "sensor_key", "sign_command", "status_payload", "topic", "valid_gate_id",
]
