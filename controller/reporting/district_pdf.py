"""The district report as a printable A4 PDF, drawn as the school's report is (pdf.py: the same CJK font,
verdict box, table style and footer): the schools and whether each reported, each session's rows per school
and for the district, the cases and warnings of every school."""

from __future__ import annotations

from .counts import CATEGORY_ZH
from .district import REPORTED, STATUS_ZH
from .pdf import (
    COUNT_HEAD,
    FONT,
    VERDICT_ZH,
    draw_cases,
    draw_session_table,
    draw_warnings,
    heading_style,
    local_time,
    start_document,
)

_COUNT_HEAD = ("类别", "学校") + COUNT_HEAD[2:]
_SCHOOL_HEAD = ("代码", "学校", "状态", "结论", "确认", "未处置", "报告人", "生成时间")
_SCHOOL_WIDTHS = (24, 38, 30, 16, 12, 14, 20, 26)
_CASE_WIDTHS = (14, 38, 22, 16, 38, 28, 24)  # time, school, gate, category, class, state, confirmed


def _cell(v) -> str:
    return "-" if v is None else str(v)


def _count_row(r: dict) -> list[str]:
    """A session row's cells: a school's total (学校, its name) or the district's by category (category, 全区)."""
    if r["scope"] == "school":
        first, second = "学校", r["school"]
    else:
        first, second = str(CATEGORY_ZH.get(r["category"], r["category"])), "全区"
    return [first, second] + [_cell(r[k]) for k in (
        "expected", "screened", "not_screened", "manual", "fevers_raised", "fevers_confirmed",
        "fevers_open", "absent_sick", "absent_leave", "absent_other", "absent_unmarked")]


def render_district_pdf(content: dict) -> bytes:
    """The A4 PDF of a district report's content (district.build_district)."""
    tz = content["timezone"]
    pdf = start_document(content, f"区域：{content['school']}    代码：{content['school_code']}    "
                                  f"日期：{content['date']}    时区：{tz}")

    schools = content["schools"]
    done = sum(1 for e in schools if e["status"] in REPORTED)
    pdf.set_font(FONT, size=12)
    pdf.cell(0, 8, f"学校报告情况（已报送 {done} / 应报 {len(schools)}）", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=8)
    with pdf.table(col_widths=_SCHOOL_WIDTHS, text_align="CENTER", line_height=5, width=sum(_SCHOOL_WIDTHS),
                   headings_style=heading_style()) as table:
        table.row(_SCHOOL_HEAD)
        for e in schools:
            verdict = VERDICT_ZH[e["verdict"]["code"]] if e["verdict"] else "-"
            counted = e["verdict"] is not None
            table.row([e["code"], e["name"], STATUS_ZH[e["status"]], verdict,
                       str(e["confirmed"]) if counted else "-", str(e["open"]) if counted else "-",
                       _cell(e["signed_by"]), local_time(e["built_at"], tz)])
    pdf.ln(2)

    for s in content["sessions"]:
        window = f"{s['start']}–{s['end']}" if s["same_window"] else "各校时段不同"
        draw_session_table(pdf, f"{s['name']}  {window}  （{len(s['schools'])} 所学校）", _COUNT_HEAD,
                           [_count_row(r) for r in s["rows"]])

    draw_cases(pdf, content["cases"], _CASE_WIDTHS, "学校", lambda c: str(c["school"]))
    draw_warnings(pdf, content["warnings"], tz, lambda w: f"{w['school']}  ")
    if content["unlisted"]:
        pdf.ln(2)
        pdf.set_font(FONT, size=9)
        names = "、".join(f"{u['code']} {u['name'] or ''}".strip() for u in content["unlisted"])
        pdf.multi_cell(0, 5, f"数据库中另有不在本区名单上的学校报告，未计入：{names}", align="L", new_x="LMARGIN",
                       new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(FONT, size=7)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(0, 4, "汇总各校存储的当日报告（按学校代码）：每个时段先列各校合计，"
                         "再列全区按类别及合计；时段按各校配置的名称分别汇总，名称不同不合并。"
                         "未报送、已生成未报送、重复或无法读取、尚有警报未处置的学校使区域结论为待定。"
                         "各项定义同学校日报。", align="L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
