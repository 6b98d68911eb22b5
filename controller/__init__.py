"""thermogate controller: turns raw gate data into screening decisions."""

__version__ = "0.1.0"
