"""``thermogate user ...``: the console's accounts, from the command line.

The first admin is made here, before anyone can log in::

    thermogate user add alice --role admin --config controller.toml   # asks for the password twice
    echo "$PASSWORD" | thermogate user add bob --role guard --password-stdin --config controller.toml
    thermogate user add chen --role teacher --classes 初一(1)班,初一(2)班   # a class teacher: those classes only
    thermogate user list | passwd NAME | role NAME ROLE | remove NAME | logout NAME

The store is the one ``controller.toml`` names (``--config``), or ``--store URL``.
Passwords are hashed by the store (scrypt); every change is in the audit trail
as done by ``cli``. It is safe while the controller runs (SQLite WAL or
PostgreSQL). Removing a user, adding a removed name again, or a new password
ends that user's console sessions at once, also while the controller runs: the
store keeps a per-user epoch that the console checks on every request and
every second of an open live view. Passwords follow the rule of
``controller.store.passwords.weakness`` (docs/console.md).
"""

from __future__ import annotations

import getpass
import sys
import time

MIN_PASSWORD = 8
ROLES = ("guard", "doctor", "admin", "teacher")


def _classes(args) -> list[str] | None:
    """The --classes of a teacher (comma-separated, as on the roster); None for any other role."""
    raw = getattr(args, "classes", None)
    role = args.role
    if role != "teacher":
        if raw:
            raise ValueError(f"--classes is for a teacher, not a {role}")
        return None
    classes = sorted({c.strip() for c in (raw or "").replace("，", ",").split(",") if c.strip()})
    if not classes:
        raise ValueError("a teacher needs --classes: the classes they teach, e.g. --classes 初一(1)班,初一(2)班")
    return classes


def _open(args):
    from ..store import open_store

    if args.store:
        return open_store(args.store)
    from ..service.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return open_store(config.store_url)


def _password(args, name: str) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise ValueError("no terminal to ask for the password: use --password-stdin")
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != password:
            raise ValueError("the two passwords differ")
    from ..store.passwords import weakness

    problem = weakness(password, name)
    if problem is not None:
        raise ValueError(problem)
    return password


def _add(args) -> int:
    classes = _classes(args)
    password = _password(args, args.name)
    with _open(args) as store:
        store.add_user(args.name, args.role, password)
        if classes is not None:
            store.set_user_classes(args.name, classes)
        store.record_audit("cli", time.time(), "user_added", {"name": args.name, "role": args.role,
                                                              **({"classes": classes} if classes else {})})
    print(f"user {args.name} added ({args.role}{': ' + ', '.join(classes) if classes else ''})")
    return 0


def _list(args) -> int:
    with _open(args) as store:
        users = store.users()
        if not users:
            print("no users yet: thermogate user add NAME --role admin")
        for u in users:
            created = time.strftime("%Y-%m-%d %H:%M", time.localtime(u.created_at))
            classes = f"  classes {', '.join(store.user_classes(u.name)) or '(none)'}" if u.role == "teacher" else ""
            print(f"{u.name:<24} {u.role:<7} created {created}{classes}")
    return 0


def _passwd(args) -> int:
    password = _password(args, args.name)
    with _open(args) as store:
        store.set_password(args.name, password)
        store.record_audit("cli", time.time(), "password_set", {"name": args.name})
    print(f"password of {args.name} changed")
    return 0


def _role(args) -> int:
    classes = _classes(args)
    with _open(args) as store:
        _keep_an_admin(store, args.name, args.role)
        store.set_role(args.name, args.role)
        store.set_user_classes(args.name, classes or [])
        store.record_audit("cli", time.time(), "user_role", {"name": args.name, "role": args.role,
                                                             **({"classes": classes} if classes else {})})
    print(f"{args.name} is now {args.role}{': ' + ', '.join(classes) if classes else ''}")
    return 0


def _remove(args) -> int:
    with _open(args) as store:
        _keep_an_admin(store, args.name, None)
        store.remove_user(args.name)
        store.record_audit("cli", time.time(), "user_removed", {"name": args.name})
    print(f"user {args.name} removed")
    return 0


def _logout(args) -> int:
    with _open(args) as store:
        store.end_sessions(args.name)
        store.record_audit("cli", time.time(), "sessions_ended", {"name": args.name})
    print(f"every console session of {args.name} is ended (the live view closes within a second)")
    return 0


def _keep_an_admin(store, name: str, new_role: str | None) -> None:
    admins = [u.name for u in store.users() if u.role == "admin"]
    if admins == [name] and new_role != "admin":
        raise ValueError(f"{name} is the last admin: add another admin first")


PASSWORD_RULE = ("A password needs at least 8 characters, at least 5 different ones, not only digits, not a "
                 "common password (such as 12345678 or password1), and must not contain the user name.")


def add_commands(commands) -> None:
    """Register ``thermogate user`` on the main parser's subcommands."""
    user = commands.add_parser("user", help="console accounts: add, list, passwd, role, remove, logout")
    sub = user.add_subparsers(dest="user_command", metavar="SUBCOMMAND", required=True)

    def common(p):
        where = p.add_mutually_exclusive_group()
        where.add_argument("--config", default="controller.toml", help="controller.toml naming the store")
        where.add_argument("--store", help="the store's URL instead (a SQLite path or postgresql://...)")
        return p

    add = common(sub.add_parser(
        "add", help="add a user (asks for the password twice)",
        description="Add a console account. guard: the live wall, history and reports, acknowledges alarms, "
                    "opens and holds doors; doctor: views, acknowledges, and records each alarm's re-check and "
                    "outcome (no doors); admin: all of that, settings, users and the audit trail; teacher: a class "
                    "teacher, limited to the classes of --classes (their absentee lists, marks and follow-ups, "
                    "pupils and sent-home notices). The password is "
                    "asked for twice (or read once from standard input with --password-stdin). " + PASSWORD_RULE))
    add.add_argument("name", help="the login name: 1-64 characters, no surrounding spaces")
    add.add_argument("--role", required=True, choices=ROLES, help="what the user may do (see above)")
    add.add_argument("--classes", metavar="CLASS,...",
                     help="a teacher's classes, comma-separated, as on the roster (e.g. 初一(1)班,初一(2)班)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input (one line), e.g. from a password manager")
    add.set_defaults(run=_add)
    common(sub.add_parser("list", help="list the users and their roles")).set_defaults(run=_list)
    passwd = common(sub.add_parser("passwd", help="set a user's password"))
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    passwd.set_defaults(run=_passwd)
    role = common(sub.add_parser("role", help="change a user's role"))
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    role.add_argument("--classes", metavar="CLASS,...", help="the classes of a teacher (required for teacher)")
    role.set_defaults(run=_role)
    remove = common(sub.add_parser("remove", help="remove a user"))
    remove.add_argument("name")
    remove.set_defaults(run=_remove)
    logout = common(sub.add_parser(
        "logout", help="end every console session of a user now (a lost or shared login)",
        description="End every console session of a user, on every gatehouse PC, while the controller runs: "
                    "their next request needs a new login and an open live view closes within a second. "
                    "The account and its password stay."))
    logout.add_argument("name")
    logout.set_defaults(run=_logout)
