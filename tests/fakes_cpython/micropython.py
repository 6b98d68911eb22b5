"""CPython stand-in for MicroPython's built-in ``micropython`` module."""


def const(value):
    return value
