"""Fake ``network``: a station interface whose link the test switches on and off."""

STA_IF = 0
AP_IF = 1


class WLAN:
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2

    def __init__(self, interface=STA_IF):
        self.up = False  # whether the access point is reachable
        self.wanted = False  # connect() called: the station keeps trying, as the ESP32's does
        self.connect_calls = 0
        self._active = False
        self.pm = WLAN.PM_PERFORMANCE  # the ESP32's default: modem sleep between beacons
        self.activated_at = []  # (connect_calls at the time) each time the radio was switched on

    def active(self, on=None):
        if on is None:
            return self._active
        if on and not self._active:
            self.activated_at.append(self.connect_calls)
        self._active = bool(on)
        return None

    def config(self, **kwargs):
        if "pm" in kwargs:
            self.pm = kwargs["pm"]

    def connect(self, ssid, password):
        self.connect_calls += 1
        self.wanted = True

    def isconnected(self):
        return self.up and self.wanted

    def disconnect(self):
        self.wanted = False

    def status(self, what=None):
        if what == "rssi":
            return -55
        return 1010 if self.isconnected() else 1001
