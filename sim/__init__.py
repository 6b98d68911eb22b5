"""thermogate simulator: virtual gates for hardware-free testing.

Empty so far: the virtual MLX90640, relay and scenes are still to be built.
"""
