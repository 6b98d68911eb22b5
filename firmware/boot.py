"""Runs before main.py on every boot. Nothing here may fail: the relay pin is
driven to its locked level by the app, and the ESP32 holds GPIOs as inputs
(relay not energised) until then."""

import gc

gc.collect()
