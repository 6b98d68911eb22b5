"""The installer's tools: the site's gate registry and secrets (gates.py), each gate's settings
(gate_settings.py), its config.json, flashing a board (flash.py), the broker's configuration
(broker_config.py), and their ``thermogate`` subcommands (cli.py, broker_cli.py)."""
