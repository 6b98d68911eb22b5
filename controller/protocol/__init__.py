"""The wire protocol between gates and the controller (docs/protocol.md).

One data type per message on the wire, each with its codec:

- :class:`FrameMessage`, :class:`EepromMessage` -- binary, from the gate
- :class:`GateStatus` -- JSON heartbeat, from the gate (retained; LWT offline)
- :class:`Command` -- JSON, signed, to the gate
- :class:`Ack` -- JSON, from the gate, one per command

Every decoder raises :class:`ProtocolError` with a short ``reason`` code
suitable for counting per gate.
"""

from .binary import EepromMessage, FrameMessage, decode_eeprom, decode_frame, encode_eeprom, encode_frame
from .commands import Ack, Command, decode_ack, sign_command
from .errors import ProtocolError
from .status import GateStatus, decode_status
from .topics import TOPIC_ROOT, parse_topic, topic, valid_gate_id

__all__ = [
    "Ack", "Command", "EepromMessage", "FrameMessage", "GateStatus", "ProtocolError", "TOPIC_ROOT",
    "decode_ack", "decode_eeprom", "decode_frame", "decode_status", "encode_eeprom", "encode_frame",
    "parse_topic", "sign_command", "topic", "valid_gate_id",
]
