"""The gates this controller serves, with their keys (commands are signed with them, and every message
from a gate is checked under the sensor key derived from its key).

Gates come from the site registry (``thermogate gate add``: ``site/gates.toml``
and ``site/secrets.toml``) and, for the demo and tests only, from
``[site] simulated_gates``. Every gate's key is in ``site/secrets.toml``: a
registered gate's put there by ``thermogate gate add``, a simulated gate's by
whatever runs it (the simulator writes its gates' keys there). A message from
any other gate id is counted and ignored.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from ..geometry import Lens
from ..site import gates as site_registry
from .config import ConfigError, ControllerConfig


@dataclass(frozen=True)
class GateInfo:
    id: str
    key: bytes  # the gate's 32-byte key K: it signs commands; its messages are tagged under mac.sensor_key(K)
    variant: str = Lens.NARROW  # the lens as the registry spells it: "55" or "110" (controller.geometry.Lens)
    name: str = ""
    location: str = ""
    simulated: bool = False
    screening: dict = field(default_factory=dict)  # its mounting from the registry, as [screening] keys


def load_gates(config: ControllerConfig) -> dict[str, GateInfo]:
    """Every gate the controller may serve; ConfigError if the site's files are unusable."""
    gates: dict[str, GateInfo] = {}
    site = config.site_dir
    registered = (site / site_registry.GATES_FILE).exists()
    try:
        registry = site_registry.load_registry(site) if registered else None
        secrets = site_registry.load_secrets(site) if registered or config.simulated_gates else site_registry.Secrets()
    except site_registry.GateError as exc:
        raise ConfigError(str(exc)) from None
    secrets_file = site / site_registry.SECRETS_FILE
    for gate_id, gate in (registry.gates.items() if registry is not None else ()):
        secret = secrets.gates.get(gate_id)
        if secret is None:
            raise ConfigError(f"{secrets_file}: no secrets for gate {gate_id!r} "
                              f"(run `thermogate gate add {gate_id} --rotate-secrets`)")
        gates[gate_id] = GateInfo(gate_id, bytes.fromhex(secret.hmac_key), gate.variant, gate.name or "",
                                  gate.location or "", screening=gate.screening)
    for gate_id in config.simulated_gates:
        if gate_id in gates:
            raise ConfigError(f"site.simulated_gates: {gate_id!r} is also a registered gate")
        secret = secrets.gates.get(gate_id)
        if secret is None:  # what runs the simulated gates puts their keys there, as `thermogate gate add` does
            raise ConfigError(f"{secrets_file}: no key for the simulated gate {gate_id!r}")
        variant = config.gate_screening.get(gate_id, {}).get("variant") or \
            config.screening_table.get("variant", Lens.NARROW)
        name = config.gate_names.get(gate_id) or f"simulated {gate_id}"
        gates[gate_id] = GateInfo(gate_id, bytes.fromhex(secret.hmac_key), str(variant), name, "simulator",
                                  simulated=True)
    if config.serve:
        gates = {g: info for g, info in gates.items() if any(fnmatch.fnmatchcase(g, p) for p in config.serve)}
        if not gates:
            raise ConfigError(f"site.serve {list(config.serve)} matches none of the site's gates")
    return gates
