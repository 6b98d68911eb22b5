"""The pages the server renders itself: the login form, the printable daily report and a visitor's pass.

Both work without JavaScript. Everything the user typed or the store holds is
HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from zoneinfo import ZoneInfo

from .i18n import LANGUAGES, t

OUTCOME_KEYS = {"admitted": "outcome_admitted", "observation_room": "outcome_observation_room",
                "sent_home": "outcome_sent_home", "false_alarm": "outcome_false_alarm"}


def _lang_links(lang: str, path: str) -> str:
    return " · ".join(f'<a href="{path}?lang={code}"{" aria-current=true" if code == lang else ""}>'
                      f'{escape(t(code, "lang_name"))}</a>' for code in LANGUAGES)


def login_page(lang: str, *, error_key: str | None = None, name: str = "", retry_s: float = 0) -> str:
    err = ""
    if error_key:
        message = escape(t(lang, error_key, s=int(retry_s) + 1))
        err = f'<p class="login-error" role="alert" id="login-error">{message}</p>'
    return f"""<!doctype html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(t(lang, 'app_title'))}</title>\
<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/app.css"></head>
<body class="login-body"><main class="login-box">
<h1>{escape(t(lang, 'app_title'))}</h1>
<form method="post" action="/login" autocomplete="on">
<label>{escape(t(lang, 'login_user'))}<input name="username" id="username" autocomplete="username" \
value="{escape(name)}" required autofocus maxlength="64"></label>
<label>{escape(t(lang, 'login_password'))}<input name="password" id="password" type="password" \
autocomplete="current-password" required maxlength="256"></label>
{err}
<button type="submit" id="login-submit">{escape(t(lang, 'login_submit'))}</button>
</form>
<p class="lang-links">{_lang_links(lang, '/login')}</p>
</main></body></html>"""


def report_page(lang: str, report: dict) -> str:
    """The daily report as a printable page (see the print rules in app.css)."""
    def cell(v) -> str:
        return f"<td>{escape(str(v))}</td>"

    heads = ["rep_gate", "rep_screened", "rep_passed", "rep_fevers", "rep_retried", "rep_blocked", "rep_alarms",
             "rep_confirmed", "rep_open"]
    cols = ["screened", "passed", "fevers", "retried", "blocked", "alarms", "confirmed_fevers", "open_alarms"]
    rows = []
    for g in report["gates"] + [report["total"]]:
        label = t(lang, "rep_total") if g["gate"] == "ALL" else (g["name"] or g["gate"])
        cls = ' class="total"' if g["gate"] == "ALL" else ""
        rows.append(f"<tr{cls}><th scope=row>{escape(label)}</th>" + "".join(cell(g[c]) for c in cols) + "</tr>")
    d = report["total"]["dispositions"]
    disp = " · ".join(f"{escape(t(lang, OUTCOME_KEYS[o]))} {n}" for o, n in d.items())
    names = {g["gate"]: g["name"] for g in report["gates"] if g.get("name")}  # one display name, as on the wall
    alarm_rows = []
    for a in report["alarms"]:
        outcome = t(lang, OUTCOME_KEYS[a["outcome"]]) if a.get("outcome") else t(lang, "status_" + a["status"])
        alarm_rows.append(
            "<tr>" + cell(a["time_local"]) + cell(names.get(a["gate"], a["gate"])) + cell(_c(a.get("estimate_c"))) +
            cell(_c(a.get("recheck_c"))) + cell(outcome) + cell(a.get("disposed_by") or "") +
            cell(a.get("note") or "") + "</tr>")
    alarms = ""
    if alarm_rows:
        alarms = (f"<h2>{escape(t(lang, 'rep_alarm_list'))}</h2><table class=report-table id=report-alarms><thead><tr>"
                  + "".join(f"<th>{escape(t(lang, k))}</th>" for k in
                            ("col_time", "col_gate", "col_estimate", "col_recheck", "col_outcome", "col_by",
                             "col_note"))
                  + "</tr></thead><tbody>" + "".join(alarm_rows) + "</tbody></table>")
    verdict = report["verdict"]["zh" if lang == "zh" else "en"]
    older = ""
    if report["older_open_alarms"]:
        older = f"<p>{escape(t(lang, 'rep_older_open', n=report['older_open_alarms']))}</p>"
    generated = dt.datetime.fromtimestamp(report["generated_at"], ZoneInfo(report["timezone"])).strftime(
        "%Y-%m-%d %H:%M")
    return f"""<!doctype html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<title>{escape(t(lang, 'rep_title'))} {escape(report['date'])}</title>\
<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/app.css"></head>
<body class="report-body"><main class="report">
<p class="no-print"><a href="/#today">{escape(t(lang, 'back'))}</a> \
<button type="button" id="print-btn">{escape(t(lang, 'print'))}</button></p>
<h1>{escape(t(lang, 'rep_title'))}: {escape(report['date'])}</h1>
<p class="verdict{' zero' if report['zero_report'] else ''}" id="report-verdict">{escape(verdict)}</p>
<table class="report-table" id="report-table">\
<thead><tr>{''.join(f'<th>{escape(t(lang, h))}</th>' for h in heads)}</tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<p id="report-dispositions">{escape(t(lang, 'rep_dispositions'))}: {disp}</p>
{older}
{alarms}
<p class="small">{escape(t(lang, 'rep_definitions', th=f"{report['threshold_c']:.1f}"))}</p>
<p class="small">{escape(t(lang, 'rep_generated'))} {escape(generated)} ({escape(report['timezone'])})</p>
</main><script src="/static/report.js"></script></body></html>"""


def _c(v) -> str:
    return "" if v is None else f"{v:.1f} °C"


def visitor_pass_page(lang: str, visitor: dict, svg: str) -> str:
    """A visitor's one-day pass to print: name, whom they visit, the window and the QR code.

    ``svg`` is the QR code as inline SVG (segno's, made here from the signed token: nothing the user typed)."""
    revoked = ""
    if visitor["revoked"]:
        revoked = f'<p class="verdict" id="pass-revoked">{escape(t(lang, "vis_revoked"))}</p>'
    facts = "".join(f"<dt>{escape(t(lang, k))}</dt><dd id=\"pass-{k[4:]}\">{escape(str(v))}</dd>" for k, v in (
        ("vis_name", visitor["name"]), ("vis_host", visitor["host"]), ("vis_purpose", visitor["purpose"]),
        ("vis_from", visitor["from_local"]), ("vis_until", visitor["until_local"]),
        ("vis_id_last4", "…" + visitor["id_last4"]), ("vis_issued_by", visitor["issued_by"])))
    return f"""<!doctype html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<title>{escape(t(lang, 'pass_title'))} {escape(visitor['name'])}</title>\
<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/app.css"></head>
<body class="report-body"><main class="report visitor-pass">
<p class="no-print"><a href="/#visitors">{escape(t(lang, 'back'))}</a> \
<button type="button" id="print-btn">{escape(t(lang, 'print'))}</button></p>
<h1>{escape(t(lang, 'pass_title'))}</h1>
{revoked}
<div class="pass-qr" id="pass-qr">{svg}</div>
<dl class="pass-facts">{facts}</dl>
<p class="small">{escape(t(lang, 'pass_note'))}</p>
<p class="small">{escape(t(lang, 'pass_id'))} {escape(visitor['pass_id'])}</p>
</main><script src="/static/report.js"></script></body></html>"""
