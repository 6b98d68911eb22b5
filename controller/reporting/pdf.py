"""The report as a printable A4 PDF with its Chinese text (fpdf2, a CJK font embedded as a subset).

The font is Noto Sans CJK SC from Debian's fonts-noto-cjk (a TrueType
collection: fpdf2 reads face ``collection_font_number`` of it and embeds only
the glyphs used, so a page is tens of kB), or whatever ``THERMOGATE_CJK_FONT``
names (``path`` or ``path#index`` for a collection).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from .counts import CATEGORY_ZH

# (path, face index): the Simplified Chinese face of each collection.
FONT_CANDIDATES = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
)
FONT = "cjk"

STATE_ZH = {"open": "未处置", "acknowledged": "已响应", "disposed": "已处置", "observation": "留观",
            "back_in": "返回", "sent_home": "离校", "fever_clinic": "发热门诊", "ambulance": "急救", "cleared": "复课",
            "closed": "结案", "admitted": "入校", "observation_room": "留观", "false_alarm": "误报"}
VERDICT_ZH = {"zero": "零报告", "pending": "待定", "cases": "有病例", "no_screening": "无筛查"}
VERDICT_COLOUR = {"zero": (0, 110, 50), "pending": (190, 110, 0), "cases": (180, 0, 0), "no_screening": (90, 90, 90)}


class FontMissing(RuntimeError):
    """No CJK font to write the report's Chinese with."""


def find_cjk_font() -> tuple[str, int]:
    """(path, face index) of the font the PDF embeds; FontMissing says how to get one."""
    named = os.environ.get("THERMOGATE_CJK_FONT", "")
    if named:
        path, _, index = named.partition("#")
        if not Path(path).is_file():
            raise FontMissing(f"THERMOGATE_CJK_FONT={named}: no such file")
        return path, int(index or 0)
    for path, index in FONT_CANDIDATES:
        if Path(path).is_file():
            return path, index
    raise FontMissing("no CJK font for the report's PDF: install fonts-noto-cjk "
                      "(Debian: apt-get install fonts-noto-cjk) or set THERMOGATE_CJK_FONT=/path/font.ttc#index")


def _pdf():
    from fpdf import FPDF

    path, index = find_cjk_font()
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font(FONT, fname=path, collection_font_number=index)
    return pdf


def local_time(t: float | None, tz_name: str) -> str:
    if t is None:
        return "-"
    from zoneinfo import ZoneInfo

    return dt.datetime.fromtimestamp(t, ZoneInfo(tz_name)).strftime("%Y-%m-%d %H:%M")


def heading_style():
    from fpdf.fonts import FontFace

    return FontFace(emphasis=None, fill_color=(225, 230, 240))  # one face of the font: no bold in headings


COUNT_HEAD = ("类别", "班级/部门", "应到", "已检", "未检", "手工", "发热", "确认", "未处置", "病缺", "事假",
              "其他", "未标记")
COUNT_WIDTHS = (16, 34, 11, 11, 11, 11, 11, 11, 13, 11, 11, 11, 18)


def start_document(content: dict, place: str):
    """A new A4 PDF of a report's content (a school's or a district's): its metadata, the footer of every page,
    the title, the line under it (``place``: who and which day), then the verdict in its colour's box (a
    verdict too long for one line wraps inside it)."""
    pdf = _pdf()
    tz = content["timezone"]
    pdf.set_title(f"{content['title']} {content['school']} {content['date']}")
    pdf.set_author(content["school"])
    pdf.set_creator("thermogate")
    pdf.alias_nb_pages()

    def footer() -> None:
        pdf.set_y(-12)
        pdf.set_font(FONT, size=8)
        pdf.set_text_color(100, 100, 100)
        pdf.cell(0, 5, f"{content['school']}（{content['school_code']}） {content['date']}   "
                       f"生成于 {local_time(content['generated_at'], tz)}   第 {pdf.page_no()}/{{nb}} 页", align="C")
        pdf.set_text_color(0, 0, 0)

    pdf.footer = footer  # type: ignore[method-assign]
    pdf.add_page()
    pdf.set_font(FONT, size=18)
    pdf.cell(0, 10, content["title"], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)
    pdf.cell(0, 6, place, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    v = content["verdict"]
    pdf.set_draw_color(*VERDICT_COLOUR[v["code"]])
    pdf.set_text_color(*VERDICT_COLOUR[v["code"]])
    pdf.set_line_width(0.6)
    pdf.set_font(FONT, size=14)
    text = f"结论：{VERDICT_ZH[v['code']]}   {v['zh']}"
    if pdf.get_string_width(text) <= pdf.epw - 4:
        pdf.cell(0, 12, text, border=1, align="C", new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.multi_cell(0, 8, text, border=1, align="C", new_x="LMARGIN", new_y="NEXT", padding=2)
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    pdf.set_font(FONT, size=8)
    pdf.cell(0, 5, v["en"], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    return pdf


def render_pdf(content: dict) -> bytes:
    """The A4 PDF of a report's content (document.build_content)."""
    tz = content["timezone"]
    pdf = start_document(content, f"学校：{content['school']}    代码：{content['school_code']}    "
                                  f"日期：{content['date']}    时区：{tz}")
    for s in content["sessions"]:
        gates = "、".join(s["gates"]) if s["gates"] else "全部闸机"
        draw_session_table(pdf, f"{s['name']}  {s['start']}–{s['end']}  （{gates}）", COUNT_HEAD, [
            [str(CATEGORY_ZH.get(r["category"], r["category"])), str(r["group"] or "-"),
             "-" if r["expected"] is None else str(r["expected"]),
             str(r["screened"]), str(r["not_screened"]), str(r["manual"]), str(r["fevers_raised"]),
             str(r["fevers_confirmed"]), str(r["fevers_open"]), str(r["absent_sick"]),
             str(r["absent_leave"]), str(r["absent_other"]), str(r["absent_unmarked"])] for r in s["rows"]])

    draw_cases(pdf, content["cases"], (18, 18, 25, 25, 40, 30, 24), "警报",
               lambda c: "-" if c["alarm"] is None else str(c["alarm"]))
    draw_warnings(pdf, content["warnings"], tz, lambda w: "")
    pdf.ln(4)

    rep = content["reporter"]
    pdf.set_font(FONT, size=10)
    signed = rep["signed_by"] or rep["name"]
    status = "已确认" if rep["confirmed"] else ("未确认（由备岗报告人报送）" if rep["signed_by"] and
                                              rep["signed_by"] == rep["backup"] else "待确认")
    pdf.cell(0, 6, f"报告人：{signed}   （{status}）    备岗报告人：{rep['backup'] or '-'}",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=7)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(0, 4, "已检 = 在时段内于指定闸机测温通过或发热（含手工复测）；未检 = 应到未检，即缺勤名单；"
                         f"确认发热 = 复测 ≥ {content['threshold_c']:.1f}°C，或无复测时留观/离校，或病例决定离校/就诊；"
                         "未处置 = 警报尚未处置。演练不计入。", align="L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def draw_session_table(pdf, title: str, head, rows) -> None:
    """One session's count table: ``title`` as its heading line, then ``head`` and ``rows`` (lists of cell
    strings, COUNT_WIDTHS wide) in the report's table style."""
    pdf.set_font(FONT, size=12)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=8)
    with pdf.table(col_widths=COUNT_WIDTHS, text_align="CENTER", line_height=5, width=sum(COUNT_WIDTHS),
                   headings_style=heading_style()) as table:
        table.row(head)
        for row in rows:
            table.row(row)
    pdf.ln(2)


def draw_cases(pdf, cases: list[dict], widths: tuple[int, ...], second_head: str, second) -> None:
    """The cases table (发热病例及处置): time, ``second_head`` (``second(case)``: the school report's alarm
    number, the district's school), gate, category, class, state, confirmed or open; 无 when there are none."""
    pdf.set_font(FONT, size=12)
    pdf.cell(0, 8, f"发热病例及处置（{len(cases)}）", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=8)
    if cases:
        with pdf.table(col_widths=widths, text_align="CENTER", line_height=5, width=sum(widths),
                       headings_style=heading_style()) as table:
            table.row(("时间", second_head, "闸机", "类别", "班级", "状态", "确认/未处置"))
            for c in cases:
                table.row([str(c["time"]), second(c), str(c["gate"]),
                           str(CATEGORY_ZH.get(c["category"], c["category"])), str(c["class"] or "-"),
                           STATE_ZH.get(c["state"], str(c["state"])),
                           "确认" if c["confirmed"] else ("未处置" if c["open"] else "排除")])
    else:
        pdf.cell(0, 6, "无", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def draw_warnings(pdf, warnings: list[dict], tz: str, prefix) -> None:
    """The warnings (自动预警), each with ``prefix(warning)`` first (the district's school), its time and rule."""
    pdf.set_font(FONT, size=12)
    pdf.cell(0, 8, f"自动预警（{len(warnings)}）", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=9)
    if warnings:
        for w in warnings:
            rule = w.get("rule_spec", w["rule"])
            pdf.multi_cell(0, 5, f"• {prefix(w)}{local_time(w['raised_at'], tz)}  {w['detail']}  （规则 {rule}）",
                           align="L", new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.cell(0, 6, "无", new_x="LMARGIN", new_y="NEXT")
