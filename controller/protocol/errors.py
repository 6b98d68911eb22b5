"""The one error every decoder raises."""


class ProtocolError(ValueError):
    """A message that does not follow docs/protocol.md.

    ``reason`` is a short code (e.g. ``crc``, ``length``, ``json``) for
    per-gate counters; the message says what exactly was wrong."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
