"""The controller service: MQTT in, doors, records and results out (``thermogate controller``).

One dispatcher sits between MQTT and the rest (``dispatcher.py``, over
``transport.py`` and ``frame_queue.py``); each gate has its own worker with its
pipeline (``gate_worker.py``); decisions become door commands, alarms and
records (``decisions.py``, ``doors.py``); alerts (``alerts.py``) and live events
(``events.py``, ``live.py``) go to whoever watches; ``metrics.py`` and
``http.py`` serve Prometheus metrics and health. ``config.py`` reads and
checks ``controller.toml``. Nothing here imports the console: controller/app.py
composes the two.
"""
