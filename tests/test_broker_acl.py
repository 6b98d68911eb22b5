"""`thermogate broker config` against a real mosquitto: users, ACL, TLS, and a virtual gate through it."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from controller.cli import main
from controller.mqtt.link import Broker, LinkError, close, connect
from controller.protocol.binary import decode_eeprom, decode_frame
from controller.protocol.commands import decode_ack, sign_command
from controller.protocol.mac import sensor_key
from controller.site import gates
from controller.site.broker_config import (
    BrokerOptions,
    TlsListener,
    check_password_entry,
    password_entry,
    queue_limits,
    write_broker_config,
)
from sim.broker import MosquittoBroker, find_mosquitto, free_port
from sim.runner import GateThread, make_gates
from sim.scenarios import scenario

GATES = ("north-1", "south-2", "vg-1")
QUIET_S = 0.5  # how long a denied message is given to show up anyway

# Started as root, mosquitto drops to the `mosquitto` user, which cannot enter the test's private temporary
# directory; on a broker machine the installer gives the files to that user instead (docs/broker.md).
AS_ROOT = "user root\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""


class Site:
    """A site with three gates, the generated broker files and a mosquitto running them."""

    def __init__(self, root: Path, broker: MosquittoBroker, out: Path):
        self.root, self.broker, self.out = root, broker, out
        self.secrets = gates.load_secrets(root)

    def password(self, gate_id: str) -> str:
        return self.secrets.gates[gate_id].mqtt_password

    def client(self, user: str | None, password: str | None, client_id: str, subscriptions=(), **kw) -> Inbox:
        return Inbox(self.broker, user, password, client_id, subscriptions, **kw)

    def controller(self, subscriptions=(), client_id: str = "thermogate-controller") -> Inbox:
        return self.client("controller", self.secrets.controller_mqtt_password, client_id, subscriptions)

    def gate(self, gate_id: str, subscriptions=(), client_id: str | None = None) -> Inbox:
        return self.client(gates.mqtt_user(gate_id), self.password(gate_id), client_id or gate_id, subscriptions)


class Inbox:
    """A connected client that keeps what it receives."""

    def __init__(self, broker, user, password, client_id, subscriptions, **kw):
        self.messages: list[tuple[str, bytes, bool]] = []
        self._cv = threading.Condition()
        self.drops = 0  # times the broker closed this client's connection
        self.client = connect(Broker(broker.host, broker.port, user, password), client_id,
                              subscriptions=[(s, 1) for s in subscriptions], on_message=self._on_message, **kw)
        self.client.on_disconnect = self._on_disconnect

    def _on_disconnect(self, *_args) -> None:
        self.drops += 1

    def _on_message(self, _c, _u, m) -> None:
        with self._cv:
            self.messages.append((m.topic, bytes(m.payload), bool(m.retain)))
            self._cv.notify_all()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def wait(self, topic: str, payload: bytes | None = None, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for t, p, _r in self.messages:
                    if t == topic and (payload is None or p == payload):
                        return p
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"nothing on {topic}; got {[t for t, *_ in self.messages]}")
                self._cv.wait(left)

    def topics(self) -> set[str]:
        with self._cv:
            return {t for t, *_ in self.messages}

    def close(self) -> None:
        close(self.client)


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    for gate_id in GATES:
        gates.add_gate(root, gate_id)
    port = free_port()
    out = tmp_path / "broker"
    assert main(["broker", "config", "--site", str(root), "-o", str(out), "--port", str(port),
                 "--bind", "127.0.0.1"]) == 0
    with MosquittoBroker(port, config_file=out / "mosquitto.conf", extra_config=AS_ROOT) as broker:
        yield Site(root, broker, out)


def test_files_modes_and_controller_password_kept(site, tmp_path):
    # As root (where mosquitto's user exists) passwd goes to mosquitto's group: see the test below.
    assert (site.out / "passwd").stat().st_mode & 0o777 == (0o640 if AS_ROOT else 0o600)
    assert (site.out / "controller-password").stat().st_mode & 0o777 == 0o600
    assert (site.root / "secrets.toml").stat().st_mode & 0o777 == 0o600
    password = site.secrets.controller_mqtt_password
    assert password and (site.out / "controller-password").read_text().strip() == password
    files = write_broker_config(site.root, tmp_path / "again")
    assert not files.controller_password_new
    assert gates.load_secrets(site.root).controller_mqtt_password == password  # generated once
    conf = (site.out / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "max_queued_messages 1000\n" in conf


def test_broker_config_refuses_a_site_that_is_not_there(tmp_path, monkeypatch, capsys):
    """Run where the site is not (on the controller machine, without $THERMOGATE_SITE), it would write a broker
    with no gate's login and a new controller password: it refuses and says where it looked, and writes
    nothing."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(gates.SITE_ENV, raising=False)
    assert main(["broker", "config", "-o", str(tmp_path / "broker")]) != 0
    err = capsys.readouterr().err
    assert "no site directory at site" in err and "THERMOGATE_SITE" in err
    assert not (tmp_path / "site").exists() and not (tmp_path / "broker").exists()
    monkeypatch.setenv(gates.SITE_ENV, str(tmp_path / "elsewhere"))
    assert main(["broker", "config", "-o", str(tmp_path / "broker")]) != 0
    assert "elsewhere ($THERMOGATE_SITE)" in capsys.readouterr().err


def test_a_watch_login_reads_every_gate_and_writes_nothing(tmp_path, capsys):
    """`broker config --add-watch-user installer`: a login of its own for thermogate watch and calibrate
    reference, so neither takes the controller's (which would knock the controller off). It reads every gate's
    eeprom, frame, status and result, not their commands or acks, and publishes nothing; it stays through a
    later run without the option (after a `gate add`), keeps its password, and goes with --remove-watch-user."""
    root = tmp_path / "site"
    for gate_id in GATES:
        gates.add_gate(root, gate_id)
    port, out = free_port(), tmp_path / "broker"
    args = ["broker", "config", "--site", str(root), "-o", str(out), "--port", str(port), "--bind", "127.0.0.1"]
    assert main([*args, "--add-watch-user", "installer"]) == 0
    password = (out / "watch-installer-password").read_text().strip()
    assert (out / "watch-installer-password").stat().st_mode & 0o777 == 0o600
    assert main(args) == 0  # as after a gate add: the login is kept, with its password
    assert (out / "watch-installer-password").read_text().strip() == password
    assert gates.load_secrets(root).watchers == {"installer": password}
    from controller.site.broker_config import WATCH_READS
    from controller.watch.link import Link

    assert {kind for kind, _ in Link.SUBSCRIPTIONS} == set(WATCH_READS)  # what the watch subscribes to
    with MosquittoBroker(port, config_file=out / "mosquitto.conf", extra_config=AS_ROOT) as broker:
        site = Site(root, broker, out)
        watch = site.client("installer", password, "watch-installer", ["thermogate/#"])
        north = site.gate("north-1", ["thermogate/north-1/cmd"])
        controller = site.controller(["thermogate/+/frame", "thermogate/+/status"])
        try:
            for kind in ("eeprom", "frame", "status", "ack"):
                north.publish(f"thermogate/north-1/{kind}", kind.encode())
            controller.publish("thermogate/north-1/result", b"PASS")
            controller.publish("thermogate/north-1/cmd", b"open")
            for kind in ("eeprom", "frame", "status", "result"):
                watch.wait(f"thermogate/north-1/{kind}")
            north.wait("thermogate/north-1/cmd", b"open")
            watch.publish("thermogate/north-1/cmd", b"forged open")
            watch.publish("thermogate/north-1/frame", b"forged frame")
            watch.publish("thermogate/north-1/status", b"forged status")
            time.sleep(QUIET_S)
            assert north.messages == [("thermogate/north-1/cmd", b"open", False)]
            assert b"forged frame" not in [p for _, p, _ in controller.messages]
            assert b"forged status" not in [p for _, p, _ in controller.messages]
            assert {t.rsplit("/", 1)[1] for t in watch.topics()} == {"eeprom", "frame", "status", "result"}
        finally:
            for c in (watch, north, controller):
                c.close()
    assert main([*args, "--remove-watch-user", "installer"]) == 0
    assert not (out / "watch-installer-password").exists() and gates.load_secrets(root).watchers == {}
    assert "installer" not in (out / "passwd").read_text() and "installer" not in (out / "acl").read_text()
    for bad in ("controller", "gate-north-1", "two words"):
        assert main([*args, "--add-watch-user", bad]) != 0
    secrets = gates.load_secrets(root)
    secrets.watchers["bad:name"] = "pw"  # secrets.toml edited by hand
    gates.save_secrets(root, secrets)
    assert main(args) != 0 and "bad:name" not in (out / "passwd").read_text()
    del secrets.watchers["bad:name"]
    secrets.watchers["ops"] = "pw"  # a login added while the controller had another user name, or by hand
    gates.save_secrets(root, secrets)
    capsys.readouterr()
    assert main([*args, "--controller-user", "ops"]) != 0  # not two password lines and ACL blocks for one user
    assert "[watch] 'ops' is the controller's broker user" in capsys.readouterr().err
    assert "ops" not in (out / "passwd").read_text()
    assert main([*args, "--controller-user", "ops", "--remove-watch-user", "ops"]) == 0
    assert gates.load_secrets(root).watchers == {}
    assert [line.split(":")[0] for line in (out / "passwd").read_text().splitlines()].count("ops") == 1


def test_a_gate_cannot_publish_as_another_gate(site):
    controller = site.controller(["thermogate/+/frame", "thermogate/+/eeprom", "thermogate/+/status"])
    north = site.gate("north-1")
    try:
        north.publish("thermogate/south-2/frame", b"forged frame", qos=1)
        north.publish("thermogate/south-2/status", b"forged status", qos=1, retain=True)
        north.publish("thermogate/north-1/frame", b"own frame", qos=1)  # sent last, on the same connection
        controller.wait("thermogate/north-1/frame", b"own frame")
        time.sleep(QUIET_S)
        assert controller.topics() == {"thermogate/north-1/frame"}
    finally:
        north.close()
        controller.close()
    late = site.controller(["thermogate/#"], client_id="late")  # nothing forged was kept as retained either
    try:
        time.sleep(QUIET_S)
        assert late.topics() == set()
    finally:
        late.close()


def test_a_gate_publishes_its_own_credentials_only(site):
    controller = site.controller(["thermogate/+/credential"])
    north = site.gate("north-1")
    try:
        north.publish("thermogate/south-2/credential", b"forged credential", qos=1)
        north.publish("thermogate/north-1/credential", b"own credential", qos=1)  # last, on the same connection
        controller.wait("thermogate/north-1/credential", b"own credential")
        time.sleep(QUIET_S)
        assert controller.topics() == {"thermogate/north-1/credential"}
    finally:
        north.close()
        controller.close()


def test_a_gate_cannot_command_a_gate_or_publish_results(site):
    south = site.gate("south-2", ["thermogate/south-2/cmd"])
    watcher = site.controller(["thermogate/+/ack"], client_id="watcher")
    north = site.gate("north-1")
    try:
        north.publish("thermogate/south-2/cmd", b'{"forged": true}')
        north.publish("thermogate/north-1/result", b'{"forged": true}')
        north.publish("thermogate/north-1/ack", b"own ack")
        watcher.wait("thermogate/north-1/ack", b"own ack")
        time.sleep(QUIET_S)
        assert south.topics() == set()
    finally:
        for c in (north, watcher, south):
            c.close()


def test_anonymous_unknown_and_wrong_password_are_refused(site):
    for user, password in ((None, None), ("gate-north-1", "not-its-password"), ("gate-nobody", "x"),
                           ("controller", site.password("north-1")), ("gate-north-1", "")):
        with pytest.raises(LinkError, match="refused"):
            connect(Broker(site.broker.host, site.broker.port, user, password), "intruder", timeout=5)


def test_a_gates_password_with_another_client_id_reads_no_other_commands(site):
    """Someone with north-1's password, calling itself south-2, sees none of south-2's commands."""
    impostor = site.client("gate-north-1", site.password("north-1"), "south-2",
                           ["thermogate/south-2/cmd", "thermogate/+/cmd", "thermogate/#"])
    real = site.gate("south-2", ["thermogate/south-2/cmd"], client_id="south-2-check")
    controller = site.controller()
    try:
        controller.publish("thermogate/south-2/cmd", b'{"for": "south-2"}')
        real.wait("thermogate/south-2/cmd", b'{"for": "south-2"}')
        time.sleep(QUIET_S)
        assert impostor.topics() == set()
    finally:
        for c in (controller, real, impostor):
            c.close()


def test_nobody_can_take_over_another_clients_connection(site):
    """Claiming south-2's (or the controller's) client id with another gate's password disconnects neither."""
    real = site.gate("south-2", ["thermogate/south-2/cmd"])
    controller = site.controller()
    impostors = [site.client(gates.mqtt_user(gate_id), site.password(gate_id), client_id)
                 for gate_id, client_id in (("north-1", "south-2"), ("vg-1", "thermogate-controller"))]
    try:
        controller.publish("thermogate/south-2/cmd", b"still there?")
        real.wait("thermogate/south-2/cmd", b"still there?")
        time.sleep(QUIET_S)
        assert (real.drops, controller.drops) == (0, 0)
    finally:
        for c in (*impostors, controller, real):
            c.close()


def test_a_gate_reads_only_its_own_commands_and_no_frames(site):
    north = site.gate("north-1", ["thermogate/north-1/cmd", "thermogate/#"])
    south = site.gate("south-2")
    controller = site.controller(["thermogate/+/frame"])
    try:
        south.publish("thermogate/south-2/frame", b"south frame")
        controller.wait("thermogate/south-2/frame", b"south frame")
        controller.publish("thermogate/south-2/cmd", b"for south")
        controller.publish("thermogate/north-1/result", b"a result")
        controller.publish("thermogate/north-1/frame", b"the controller is no gate")
        controller.publish("thermogate/north-1/cmd", b"for north")
        north.wait("thermogate/north-1/cmd", b"for north")
        time.sleep(QUIET_S)
        assert north.topics() == {"thermogate/north-1/cmd"}
        assert controller.topics() == {"thermogate/south-2/frame"}
    finally:
        for c in (controller, south, north):
            c.close()


def test_a_virtual_gate_works_through_the_acl(site):
    """The firmware's own code, logged in as its gate user: frames, EEPROM, status in; a signed open, its ack."""
    controller = site.controller(["thermogate/+/frame", "thermogate/+/eeprom", "thermogate/+/status",
                                  "thermogate/+/ack"])
    gate_list = make_gates(1, lambda i: scenario("normal_queue", i), site.broker.host, site.broker.port,
                           prefix="vg", user="gate-vg-1", password=site.password("vg-1"))
    thread = GateThread(gate_list).start()
    try:
        gate = gate_list[0]
        ks = sensor_key(gate.key)  # its messages are protocol version 2, sealed under it
        eeprom = controller.wait("thermogate/vg-1/eeprom", timeout=15)
        assert (decode_eeprom(eeprom, ks).words == gate.eeprom).all()
        controller.wait("thermogate/vg-1/status")
        frame = decode_frame(controller.wait("thermogate/vg-1/frame", timeout=15), ks)
        command = sign_command(gate.key, "vg-1", frame.boot_id, 1, "open", 1000, frame.sequence)
        controller.publish("thermogate/vg-1/cmd", command.payload())
        ack = decode_ack(controller.wait("thermogate/vg-1/ack", timeout=5), ks)
        assert ack.ok and ack.counter == 1 and ack.action == "open", ack
    finally:
        thread.stop()
        controller.close()


def test_the_queue_keeps_a_stalled_controllers_frames(tmp_path):
    """Sized for 3 gates x 8/s x 250 s = 6000 messages, the broker holds 5000 frames for a controller that
    reads nothing meanwhile, and delivers every one when it reads again (mosquitto's default 1000 would not)."""
    root = tmp_path / "site"
    gates.add_gate(root, "a")
    gates.add_gate(root, "b")
    gates.add_gate(root, "c")
    port = free_port()
    files = write_broker_config(root, tmp_path / "broker", BrokerOptions(port=port, bind="127.0.0.1", stall_s=250))
    assert files.max_queued_messages == 6000
    sent = 5000
    with MosquittoBroker(port, config_file=files.conf, extra_config=AS_ROOT) as broker:
        s = Site(root, broker, tmp_path / "broker")
        controller = s.controller(["thermogate/+/frame"])
        gate = s.gate("a")
        try:
            controller.client.loop_stop()  # stalled: nothing reads its socket
            for i in range(sent):
                gate.client.publish("thermogate/a/frame", i.to_bytes(4, "big") + bytes(1688), qos=0)
                if i % 100 == 99:
                    time.sleep(0.005)  # let paho's network thread keep up
            time.sleep(1.0)
            controller.client.loop_start()
            deadline = time.monotonic() + 10
            while len(controller.messages) < sent and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(controller.messages) == sent
        finally:
            gate.close()
            controller.close()


def test_password_lines_match_mosquitto_passwd(tmp_path):
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not os.access(tool, os.X_OK):
        pytest.skip("mosquitto_passwd is not installed")
    path = tmp_path / "pw"
    subprocess.run([tool, "-b", "-c", str(path), "alice", "s3cret-pw"], check=True, capture_output=True)
    theirs = path.read_text().strip()
    assert check_password_entry(theirs, "s3cret-pw") and not check_password_entry(theirs, "s3cret-px")
    salt = __import__("base64").b64decode(theirs.split("$")[3])
    iterations = int(theirs.split("$")[2])
    assert password_entry("alice", "s3cret-pw", iterations=iterations, salt=salt) == theirs


def test_queue_limits_follow_the_gate_count():
    assert queue_limits(2) == (1000, 1000 * 2048)
    assert queue_limits(1000) == (40000, 40000 * 2048)
    assert queue_limits(100, stall_s=10) == (8000, 8000 * 2048)


# ---------------------------------------------------------------- TLS


def make_ca_and_server_cert(d: Path, host_ip: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """The openssl steps of docs/broker.md: a site CA, and a broker certificate it signs."""
    run = lambda *args: subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", "/CN=thermogate site CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=broker.test", "-keyout", "server.key",
        "-out", "server.csr")
    (d / "server.ext").write_text(
        "basicConstraints = CA:FALSE\nkeyUsage = digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth\nauthorityKeyIdentifier = keyid,issuer\n"
        f"subjectAltName = DNS:broker.test, IP:{host_ip}\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "825", "-extfile", "server.ext", "-out", "server.crt")
    return d / "ca.crt", d / "server.crt", d / "server.key"


def tls_client(ca: Path | None, user: str, password: str, port: int) -> tuple[mqtt.Client, list]:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"tls-{user}", protocol=mqtt.MQTTv311)
    client.username_pw_set(user, password)
    client.tls_set(ca_certs=str(ca) if ca else None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    codes: list = []
    client.on_connect = lambda _c, _u, _f, rc, _p: codes.append(rc)
    client.connect("127.0.0.1", port, keepalive=30)
    return client, codes


def test_tls_listener(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    root = tmp_path / "site"
    gates.add_gate(root, "north-1")
    ca, cert, key = make_ca_and_server_cert(tmp_path)
    plain, secure = free_port(), free_port()
    options = BrokerOptions(port=plain, bind="127.0.0.1", tls=TlsListener(str(cert), str(key), str(ca), secure))
    files = write_broker_config(root, tmp_path / "broker", options)
    password = gates.load_secrets(root).controller_mqtt_password
    with MosquittoBroker(plain, config_file=files.conf, extra_config=AS_ROOT):
        client, codes = tls_client(ca, "controller", password, secure)
        client.loop_start()
        try:
            deadline = time.monotonic() + 5
            while not codes and time.monotonic() < deadline:
                time.sleep(0.02)
            assert codes and not codes[0].is_failure, codes
            assert client.socket().version().startswith("TLSv1.")  # type: ignore[union-attr]
        finally:
            client.disconnect()
            client.loop_stop()
        # A client that does not trust the site's CA gets no TLS session at all.
        with pytest.raises(ssl.SSLCertVerificationError):
            tls_client(None, "controller", password, secure)


@pytest.mark.root
def test_mosquitto_started_as_root_reads_the_generated_files(tmp_path):
    """mosquitto started as root drops to its own user before it opens passwd and acl: as root, broker
    config gives them (and the directory) to mosquitto's group, and the broker starts and checks logins."""
    import pwd

    if os.geteuid() != 0:
        message = "needs root: mosquitto only drops to its own user when started as root"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI runs as root and must run it)")
        pytest.skip(message)
    try:
        pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.fail("no mosquitto user: Debian's mosquitto package creates it")
    root = tmp_path / "site"
    gates.add_gate(root, "north-1")
    # Where a site keeps it: a directory every user may enter (the test's own tmp_path is root's alone).
    parent = Path("/tmp") / f"thermogate-broker-test-{os.getpid()}"
    parent.mkdir(mode=0o755)
    try:
        out, port = parent / "broker", free_port()
        assert main(["broker", "config", "--site", str(root), "-o", str(out), "--port", str(port),
                     "--bind", "127.0.0.1"]) == 0
        assert (out / "passwd").stat().st_gid == pwd.getpwnam("mosquitto").pw_gid
        assert (out / "controller-password").stat().st_mode & 0o777 == 0o600  # the controller's, not mosquitto's
        proc = subprocess.Popen([find_mosquitto(), "-c", str(out / "mosquitto.conf")], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            secrets = gates.load_secrets(root)
            deadline = time.monotonic() + 10
            client = None
            while client is None:
                if proc.poll() is not None:
                    pytest.fail(f"mosquitto exited: {proc.stdout.read()}")
                try:
                    client = connect(Broker("127.0.0.1", port, "controller", secrets.controller_mqtt_password),
                                     "ctl")
                except (LinkError, OSError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            close(client)
            with pytest.raises(LinkError):
                connect(Broker("127.0.0.1", port, "controller", "wrong"), "ctl2")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    finally:
        shutil.rmtree(parent, ignore_errors=True)
