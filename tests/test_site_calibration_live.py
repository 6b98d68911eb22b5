"""thermogate calibrate on a running site: a nurse's sheet against the stored decisions, or readings
typed in as the gate decides; the offset is stored and the controller applies it at start."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import pytest

from controller.calibrate.live import pairs_interactive
from controller.cli import main
from controller.mqtt.link import Broker, connect
from controller.service.config import load_config
from controller.service.service import ControllerService
from controller.store import Screening, open_store
from controller_harness import midday_zone, write_config


def _screening(uid, t, estimate, decision="PASS"):
    return Screening(uid, "sim-1", t, decision, "", 1, estimate, 34.9, 0.5, False, 1, 1)


def test_sheet_calibration_is_stored_and_applied(tmp_path, mqtt_broker, capsys):
    # The school's zone is one where it is about noon now: the sheet's bare times are read as the same day the
    # decisions were stored on, whatever the wall clock says.
    path = write_config(tmp_path, mqtt_broker, ["sim-1"], timezone=midday_zone().key)
    config = load_config(path)
    tz = config.tz
    base = datetime.now(tz).replace(hour=8, minute=0, second=0, microsecond=0)
    store = open_store(config.store_url)
    estimates = [36.1, 36.5, 36.3, 36.8, 36.2, 36.4, 36.0, 36.6, 36.3, 36.5, 36.2, 36.7]
    for i, e in enumerate(estimates):
        store.record_screening(_screening(f"u{i}", base.timestamp() + 60 * i, e))
    store.record_screening(_screening("r", base.timestamp() + 30, None, "RETRY"))
    store.close()
    sheet = tmp_path / "nurse.csv"
    # The nurse's watch is a few seconds off, and she missed one person; one row matches nobody.
    rows = [f"08:{i:02d}:0{3 if i % 2 else 0},{e + 0.5 + (0.1 if i == 2 else 0):.1f}" for i, e in enumerate(estimates)
            if i != 3]
    sheet.write_text("time,clinical_c\n" + "\n".join(rows + ["09:30,36.9"]) + "\n")
    assert main(["calibrate", "sim-1", "--config", str(path), "--readings", str(sheet)]) == 0
    out, err = capsys.readouterr()
    fit = json.loads(out)
    assert fit["pairs"] == 11 and fit["previous_offset_c"] == 0.0 and fit["problems"] == [] and fit["stored"]
    assert fit["site_offset_c"] == pytest.approx(0.5, abs=0.06)
    assert "no decision of sim-1 within 20 s" in err
    store = open_store(config.store_url)
    assert store.latest_calibration("sim-1").offset_c == pytest.approx(fit["site_offset_c"], abs=0.01)
    store.close()
    svc = ControllerService(config, http=False)  # the next start applies it
    try:
        assert svc.workers["sim-1"].config.site_offset_c == pytest.approx(fit["site_offset_c"], abs=0.01)
    finally:
        svc.stop()
    # A second calibration starts from the stored offset.
    assert main(["calibrate", "sim-1", "--config", str(path), "--readings", str(sheet), "--no-store"]) == 0
    assert json.loads(capsys.readouterr()[0])["previous_offset_c"] == pytest.approx(fit["site_offset_c"], abs=0.01)


def test_a_fit_that_fails_the_checks_is_not_stored_unless_asked(tmp_path, mqtt_broker, capsys):
    """docs/installation.md stores a fit only when it passes its checks: the command does not store one that
    fails them (4 readings are too few), says so and exits 1; --store-anyway stores it."""
    path = write_config(tmp_path, mqtt_broker, ["sim-1"], timezone=midday_zone().key)  # no midnight, as above
    config = load_config(path)
    base = datetime.now(config.tz).replace(hour=8, minute=0, second=0, microsecond=0)
    store = open_store(config.store_url)
    for i, e in enumerate([36.1, 36.5, 36.3, 36.8]):
        store.record_screening(_screening(f"u{i}", base.timestamp() + 60 * i, e))
    store.close()
    sheet = tmp_path / "nurse.csv"
    sheet.write_text("time,clinical_c\n" + "".join(f"08:0{i}:02,{e + 0.5:.1f}\n"
                                                   for i, e in enumerate([36.1, 36.5, 36.3, 36.8])))
    assert main(["calibrate", "sim-1", "--config", str(path), "--readings", str(sheet)]) == 1
    out, err = capsys.readouterr()
    fit = json.loads(out)
    assert fit["pairs"] == 4 and not fit["stored"] and fit["problems"][0].startswith("too few readings: 4 used")
    assert "not stored" in err and "--store-anyway" in err
    store = open_store(config.store_url)
    assert store.latest_calibration("sim-1") is None
    store.close()
    assert main(["calibrate", "sim-1", "--config", str(path), "--readings", str(sheet), "--store-anyway"]) == 0
    assert json.loads(capsys.readouterr()[0])["stored"]
    store = open_store(config.store_url)
    assert store.latest_calibration("sim-1").offset_c == pytest.approx(0.5, abs=0.06)
    store.close()


def test_a_sheet_across_a_calibration_is_fitted_with_the_offset_each_decision_was_made_with(tmp_path, mqtt_broker,
                                                                                            capsys):
    """A sheet that spans a stored calibration holds decisions made with the offset before it (0) and after it
    (0.5, from the controller's restart): each is restated at the offset in force now before the fit, so the
    fitted offset is the one that makes both agree with the thermometer (0.8), not a mixture of the two."""
    path = write_config(tmp_path, mqtt_broker, ["sim-1"])
    config = load_config(path)
    day = 86400.0
    # 08:00 three days ago, so that each day's rows lie within one local day and, read without their dates
    # as today's, fall on a day with no decisions whatever the hour the test runs at.
    start = datetime.now(config.tz).replace(hour=8, minute=0, second=0, microsecond=0).timestamp() - 3 * day
    store = open_store(config.store_url)
    raw = [36.1, 36.5, 36.3, 36.8, 36.2, 36.6]
    for i, r in enumerate(raw):
        store.record_screening(_screening(f"a{i}", start + 60 * i, r))  # made with offset 0
    store.record_calibration("sim-1", start + day, 0.5, 0.2, 20, {"source": "an earlier sheet"})
    for i, r in enumerate(raw):
        store.record_screening(_screening(f"b{i}", start + 2 * day + 60 * i, r + 0.5))  # made with 0.5
    store.close()
    stamp = [datetime.fromtimestamp(start + k * day + 60 * i, config.tz).isoformat(timespec="seconds")
             for k in (0, 2) for i in range(len(raw))]
    sheet = tmp_path / "nurse.csv"
    sheet.write_text("time,clinical_c\n" + "\n".join(f"{when},{r + 0.8:.1f}" for when, r in zip(stamp, raw * 2,
                                                                                              strict=True)) + "\n")
    assert main(["calibrate", "sim-1", "--config", str(path), "--readings", str(sheet), "--no-store"]) == 0
    fit = json.loads(capsys.readouterr()[0])
    assert fit["pairs"] == 12 and fit["previous_offset_c"] == 0.5 and fit["outliers"] == []
    assert fit["site_offset_c"] == pytest.approx(0.8, abs=0.06)
    # The same sheet without its dates is read as today's, matches nothing, and says why.
    rows = [f"{when[11:19]},{r + 0.8:.1f}" for when, r in zip(stamp, raw * 2, strict=True)]
    sheet.write_text("time,clinical_c\n" + "\n".join(rows) + "\n")
    assert main(["calibrate", "sim-1", "--config", str(path), "--readings", str(sheet), "--no-store"]) == 2
    err = capsys.readouterr()[1]
    assert "no decision of sim-1 within 20 s" in err and "a time without a date (HH:MM) is read as" in err


def test_bad_sheets_are_refused_clearly(tmp_path, mqtt_broker):
    path = write_config(tmp_path, mqtt_broker, ["sim-1"])
    sheet = tmp_path / "bad.csv"
    sheet.write_text("time,clinical_c\nnoon,36.5\n")
    assert main(["calibrate", "sim-1", "--config", str(path), "--readings", str(sheet)]) == 2
    sheet.write_text("when,reading\n08:00,36.5\n")
    assert main(["calibrate", "sim-1", "--config", str(path), "--readings", str(sheet)]) == 2
    assert main(["calibrate", "sim-1"]) == 2  # neither a recording nor a site


def test_interactive_pairs_follow_the_result_topic(mqtt_broker):
    answers = iter(["36.9", "", "abc", "48", "36.7", "done"])
    asked = []

    def ask(prompt):
        asked.append(prompt)
        return next(answers)

    publisher = connect(Broker(mqtt_broker.host, mqtt_broker.port), "results")

    def publish():
        time.sleep(0.5)
        for i, (decision, estimate) in enumerate([("PASS", 36.4), ("RETRY", None), ("PASS", 36.0), ("PASS", 36.1),
                                                 ("FEVER", 38.0), ("PASS", 36.3), ("PASS", 36.2)]):
            body = {"v": 1, "gate": "sim-1", "decision": decision, "estimate_c": estimate, "track": i}
            publisher.publish("thermogate/sim-1/result", json.dumps(body), qos=1).wait_for_publish(5)

    threading.Thread(target=publish, daemon=True).start()
    pairs = pairs_interactive(Broker(mqtt_broker.host, mqtt_broker.port), "sim-1", ask=ask, wait_s=10)
    publisher.disconnect()
    # RETRY is never asked about; Enter, a non-number and an implausible reading are skipped.
    assert pairs == [(36.4, 36.9), (36.3, 36.7)]
    assert len(asked) == 6 and "estimate 36.40" in asked[0]
