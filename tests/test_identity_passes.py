"""Credentials at the gate: resolve() for every outcome, signed visitor passes (forged, altered, expired,
outside the window, revoked), their QR codes read back by a real decoder, and the visitor commands."""

from __future__ import annotations

import base64
import io
import os
import sqlite3

import pytest
import zxingcpp
from PIL import Image

from controller.identity import cli, passes, qr, visitors
from controller.identity.checks import IdentityError
from controller.identity.people_store import open_people_store
from controller.identity.records import (
    CARD,
    EXPIRED,
    FORGED,
    INACTIVE,
    OUTSIDE_WINDOW,
    QR,
    REVOKED,
    UNKNOWN,
    Person,
    PersonRef,
)
from controller.identity.resolve import Resolver
from controller.identity.roster_import import import_roster

T0 = 1_780_000_000.0
KEY = bytes(range(32))
ROSTER = ("id,name,role,class,boarder,guardian_phone,credentials,active\n"
          "S1,张伟,student,初一(1)班,no,,card:04A1B2C3;S1-QR,yes\n"
          "S2,李娜,student,初一(2)班,no,,card:04A1B2C4,no\n").encode()


@pytest.fixture
def url(store_url):  # noqa: F811 (the fixture imported above: SQLite, then PostgreSQL)
    return store_url


@pytest.fixture
def people(url):
    p = open_people_store(url)
    import_roster(p, ROSTER, T0)
    yield p
    p.close()


def visit(people, start=T0 + 3600, end=T0 + 7200, key=KEY):
    return visitors.register(people, key, name="王芳", id_last4="123x", host="李老师", purpose="家长会",
                             valid_from=start, valid_until=end, issued_by="guard-1", now=T0)


def decode_png(data: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))]


def test_resolve_people(people):
    r = Resolver(people, KEY)
    ok = r.resolve("04a1b2c3", CARD, T0)  # as a reader sends it: lower case
    assert ok.ok and ok.reason is None and ok.visitor is None
    assert ok.person == PersonRef(id="S1", name="张伟", role="student", class_name="初一(1)班", active=True)
    assert r.resolve("04:A1:B2:C3", CARD, T0).person.id == "S1"
    assert r.resolve("S1-QR", QR, T0).person.id == "S1"
    assert r.resolve("S1-QR", CARD, T0).reason == UNKNOWN  # the right text under the wrong kind
    inactive = r.resolve("04A1B2C4", CARD, T0)
    assert inactive.reason == INACTIVE and not inactive.ok and inactive.person.id == "S2"
    for garbage in ("", "S1-QR\x00", "x" * 10_000, "\ufffd\ufffd", "04A1B2C3FF", None, 42):
        res = r.resolve(garbage, QR, T0)
        assert res.reason == UNKNOWN and res.person is None, garbage
    assert r.resolve("04A1B2C3", "rfid", T0).reason == UNKNOWN
    # It is a function of the store: a change of the roster shows at once.
    people.put_person(Person("S1", "张伟", "student", "初一(1)班", False, "", active=False), T0 + 1)
    assert r.resolve("04A1B2C3", CARD, T0).reason == UNKNOWN  # the new roster line has no credentials
    assert r.resolve("S1-QR", QR, T0).reason == UNKNOWN


def test_resolve_visitor_passes_inside_and_outside_their_window(people):
    v, token = visit(people)
    assert token.startswith("TGV1:") and len(token) == 57
    r = Resolver(people, KEY)
    inside = r.resolve(token, QR, T0 + 5000)
    assert inside.ok and inside.person is None
    assert (inside.visitor.pass_id, inside.visitor.name, inside.visitor.host) == (v.pass_id, "王芳", "李老师")
    assert inside.visitor.valid_from == T0 + 3600 and inside.visitor.valid_until == T0 + 7200
    assert r.resolve(token.lower(), QR, T0 + 5000).ok  # a scanner in lower-case mode
    assert r.resolve(token, QR, T0 + 3599).reason == OUTSIDE_WINDOW
    assert r.resolve(token, QR, T0 + 3600).ok
    assert r.resolve(token, QR, T0 + 7200).reason == EXPIRED
    assert r.resolve(token, QR, T0 + 86400 * 3).reason == EXPIRED
    assert r.resolve(token, CARD, T0 + 5000).reason == UNKNOWN
    assert Resolver(people, None).resolve(token, QR, T0 + 5000).reason == UNKNOWN  # no key: no visitor enters
    people.revoke_visitor(v.pass_id, "guard-2", T0 + 4000)
    revoked = r.resolve(token, QR, T0 + 5000)
    assert revoked.reason == REVOKED and revoked.visitor.pass_id == v.pass_id
    assert people.revoke_visitor(v.pass_id, "guard-3", T0 + 4500).revoked_by == "guard-2"  # the first stands


def test_forged_and_altered_passes_are_refused(people, url):
    v, token = visit(people)
    r = Resolver(people, KEY)
    at = T0 + 5000
    # Every single-character change of the token's body is refused.
    body = token[5:]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    for i in range(len(body)):
        changed = body[:i] + alphabet[(alphabet.index(body[i]) + 1) % 32] + body[i + 1:]
        assert r.resolve("TGV1:" + changed, QR, at).reason in (FORGED, UNKNOWN), i
    # A pass with a longer window, made without the key (here: under another key), is forged.
    raw = base64.b32decode(body + "====")
    longer = passes.issue(b"\x01" * 32, v.pass_id, int(T0), int(T0 + 86400 * 30))
    assert r.resolve(longer, QR, at).reason == FORGED
    # The window comes from the signed token: widening it in the database lets nobody in later.
    if url.startswith("sqlite"):
        con = sqlite3.connect(url[len("sqlite://"):])
        con.execute("UPDATE visitors SET valid_until = ? WHERE pass_id = ?", (T0 + 86400 * 30, v.pass_id))
        con.commit()
        con.close()
        assert people.visitor(v.pass_id).valid_until == T0 + 86400 * 30
    assert r.resolve(token, QR, T0 + 86400).reason == EXPIRED
    # A genuine pass whose record is gone (retention) names nobody.
    people.purge_visitors(T0 + 86400 * 365)
    assert r.resolve(token, QR, at).reason == UNKNOWN
    # Made-up tokens of every shape.
    for fake in ("TGV1:", "TGV1:" + "A" * 52, "TGV1:" + base64.b32encode(raw[:16] + bytes(16)).decode().rstrip("="),
                 "TGV1:" + body[:-1], "TGV1:" + body + "A", "TGV1:" + body.replace(body[0], "1", 1)):
        assert r.resolve(fake, QR, at).reason in (FORGED, UNKNOWN), fake
    with pytest.raises(passes.PassForged):
        passes.verify(KEY, "TGV1:" + "A" * 52)


def test_the_qr_png_decodes_back_to_the_token(people):
    _, token = visit(people)
    assert decode_png(qr.png(token)) == [token]
    svg = qr.svg(token).decode()
    assert svg.startswith("<?xml") and "<svg" in svg and "thermogate visitor pass" in svg


def test_register_refuses_whole_id_numbers_and_long_windows(people):
    with pytest.raises(IdentityError, match="only the last 4 characters"):
        visitors.register(people, KEY, name="王芳", id_last4="11010519491231002X", host="李老师", purpose="x",
                          valid_from=T0, valid_until=T0 + 60, issued_by="g", now=T0)
    with pytest.raises(IdentityError, match="ID number"):
        visitors.register(people, KEY, name="王芳", id_last4="002X", host="李老师",
                          purpose="身份证 110105194912310021", valid_from=T0, valid_until=T0 + 60, issued_by="g",
                          now=T0)
    with pytest.raises(IdentityError, match="one day at most"):
        visitors.register(people, KEY, name="王芳", id_last4="002X", host="李老师", purpose="x",
                          valid_from=T0, valid_until=T0 + 86401, issued_by="g", now=T0)
    with pytest.raises(IdentityError, match="already over"):
        visitors.register(people, KEY, name="王芳", id_last4="002X", host="李老师", purpose="x",
                          valid_from=T0 - 100, valid_until=T0 - 10, issued_by="g", now=T0)
    for bad in ("12", "12345", "abcd", "12X4"):
        with pytest.raises(IdentityError):
            visitors.register(people, KEY, name="王芳", id_last4=bad, host="李老师", purpose="x",
                              valid_from=T0, valid_until=T0 + 60, issued_by="g", now=T0)
    assert people.visitors() == []


def test_visitor_commands(url, people, tmp_path, capsys):
    site = tmp_path / "site"
    common = ["--store", url, "--site", str(site), "--tz", "Asia/Shanghai"]
    # Tomorrow's afternoon, dated: a window of today's clock times is already over at 23:59 and refused.
    import datetime as dt
    import zoneinfo

    tomorrow = (dt.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")) + dt.timedelta(days=1)).date().isoformat()
    rc = cli.main(["visitor", "add", *common, "--name", "王芳", "--id-last4", "0021", "--host", "李老师",
                   "--purpose", "家长会", "--from", f"{tomorrow} 14:00", "--until", f"{tomorrow} 17:00",
                   "-o", str(tmp_path / "qr"), "--as", "guard-1"])
    out = capsys.readouterr().out
    assert rc == 0 and "王芳" in out
    token = next(line.split()[-1] for line in out.splitlines() if "QR text:" in line)
    key_file = site / passes.KEY_FILE
    assert os.stat(key_file).st_mode & 0o777 == 0o600 and "visitor-pass.key" in (site / ".gitignore").read_text()
    (png,) = (tmp_path / "qr").glob("visitor-*.png")
    assert decode_png(png.read_bytes()) == [token]
    (v,) = people.visitors()
    assert v.id_last4 == "0021" and v.issued_by == "guard-1"
    assert Resolver(people, passes.load_pass_key(site)).resolve(token, QR, (v.valid_from + v.valid_until) / 2).ok
    # A whole ID number is refused and nothing is stored.
    rc = cli.main(["visitor", "add", *common, "--name", "赵", "--id-last4", "110105194912310021", "--host", "h",
                   "--purpose", "p", "-o", str(tmp_path / "qr")])
    assert rc == 2 and "only the last 4" in capsys.readouterr().err
    assert len(people.visitors()) == 1
    # The day's list and the audited export.
    day = dt.datetime.fromtimestamp(v.valid_from, zoneinfo.ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert cli.main(["visitor", "list", *common, "--date", day]) == 0
    assert v.pass_id in capsys.readouterr().out
    assert cli.main(["visitor", "list", *common, "--date", "2001-01-01"]) == 0
    assert "no visitors" in capsys.readouterr().out
    log = tmp_path / "log.csv"
    assert cli.main(["visitor", "export", str(log), *common, "--date", day, "--reason", "月度登记",
                     "--as", "admin"]) == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("pass_id,name,id_last4,host,purpose,valid_from") and "王芳" in lines[1]
    (read,) = people.reads()
    assert (read.reader, read.action, read.reason, read.detail["rows"]) == ("admin", "visitor_export", "月度登记", 1)
    assert cli.main(["visitor", "revoke", v.pass_id, *common]) == 0
    assert people.visitor(v.pass_id).revoked_at is not None


def test_pass_key_file_must_be_private(tmp_path):
    with pytest.raises(IdentityError, match="no visitor pass key"):
        passes.load_pass_key(tmp_path)
    key = passes.load_pass_key(tmp_path, create=True)
    assert len(key) == 32 and passes.load_pass_key(tmp_path) == key
    os.chmod(tmp_path / passes.KEY_FILE, 0o644)
    with pytest.raises(IdentityError, match="readable by other users"):
        passes.load_pass_key(tmp_path)


def test_the_credential_lookup_uses_the_primary_key_index(tmp_path):
    people = open_people_store(str(tmp_path / "t.db"))
    people.close()
    con = sqlite3.connect(tmp_path / "t.db")
    plan = " ".join(str(r) for r in con.execute(
        "EXPLAIN QUERY PLAN SELECT p.id FROM credentials c JOIN people p ON p.id = c.person_id "
        "WHERE c.kind = ? AND c.credential = ?", ("card", "04A1B2C3")))
    con.close()
    assert "USING INDEX sqlite_autoindex_credentials_1 (kind=? AND credential=?)" in plan, plan
    assert "SCAN" not in plan, plan
