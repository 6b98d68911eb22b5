"""Calibrating a gate on its site: ``thermogate calibrate`` (cli.py)."""
