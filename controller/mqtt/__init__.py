"""The controller's MQTT link, shared by every tool that talks to a broker.

- :mod:`.link` -- :class:`~.link.Broker` (where a broker is and how to log in),
  :func:`~.link.make_client` (the one paho client set-up), :func:`~.link.connect`
  and :func:`~.link.close`
- :mod:`.options` -- the ``--broker``/``--username``/password options of the
  commands and the :class:`~.link.Broker` they give
"""
