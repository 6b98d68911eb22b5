"""Who is at the gate: the roster, credentials, visitors and their passes, and who read what.

- ``records.py``: the frozen types (``Person``, ``Visitor``, ``Resolution``, ...);
- ``checks.py``: the field rules (ids, roles, phones, credentials, ID-card last 4);
- ``people_store.py``: ``PeopleStore`` over the event store's database (migration 3);
- ``roster_csv.py``, ``roster_import.py``: the roster file and ``people import``;
- ``passes.py``, ``qr.py``, ``visitors.py``: signed one-day visitor passes and their QR codes;
- ``resolve.py``: ``Resolver.resolve(text, kind, at)``, what a credential means at a gate;
- ``retention.py``: the ``[retention]`` table and its purge;
- ``cli.py``: ``thermogate people ...`` and ``thermogate visitor ...``.

docs/privacy.md says what is kept, for how long, and who reads it.
"""
