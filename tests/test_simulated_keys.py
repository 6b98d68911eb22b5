"""A simulated gate's key reaches the controller as a real gate's does: through the site's secrets.toml
(sim.gate_config.provision_keys), never from a derivation the controller knows."""

from __future__ import annotations

import stat

import pytest

from controller.service.config import ConfigError, ControllerConfig
from controller.service.registry import load_gates
from controller.site import gates as site_registry
from sim.gate_config import provision_keys, simulator_key


def test_a_simulated_gate_without_a_provisioned_key_is_refused(tmp_path):
    config = ControllerConfig(site_dir=tmp_path / "site", simulated_gates=("sim-1",))
    with pytest.raises(ConfigError, match="no key for the simulated gate 'sim-1'"):
        load_gates(config)


def test_provisioned_keys_are_the_simulators_and_keep_the_sites_other_secrets(tmp_path):
    site = tmp_path / "site"
    site_registry.add_gate(site, "north-1")  # a registered gate: its secrets must survive
    north = site_registry.load_secrets(site).gates["north-1"]
    provision_keys(site, ["sim-1", "sim-2"])
    password = site_registry.load_secrets(site).gates["sim-1"].mqtt_password
    provision_keys(site, ["sim-1"])  # again: the same key, the same password
    secrets = site_registry.load_secrets(site)
    assert secrets.gates["north-1"] == north and secrets.gates["sim-1"].mqtt_password == password
    assert stat.S_IMODE((site / site_registry.SECRETS_FILE).stat().st_mode) == 0o600
    gates = load_gates(ControllerConfig(site_dir=site, simulated_gates=("sim-1", "sim-2")))
    assert gates["sim-1"].key == simulator_key("sim-1") != gates["sim-2"].key == simulator_key("sim-2")
    assert gates["sim-1"].simulated and not gates["north-1"].simulated
    assert gates["north-1"].key == bytes.fromhex(north.hmac_key)


def test_a_key_the_site_gives_a_simulated_gate_is_the_one_used(tmp_path):
    """The controller takes whatever key the site holds: a simulated gate is not recognised by its id."""
    site = tmp_path / "site"
    site.mkdir()
    secrets = site_registry.Secrets()
    secrets.gates["sim-1"] = site_registry.GateSecrets("ab" * 32, "pw")
    site_registry.save_secrets(site, secrets)
    gates = load_gates(ControllerConfig(site_dir=site, simulated_gates=("sim-1",)))
    assert gates["sim-1"].key == bytes.fromhex("ab" * 32) != simulator_key("sim-1")
