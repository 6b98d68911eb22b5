"""A visitor pass's QR code as SVG and PNG (segno, pure Python), for printing or showing on a phone."""

from __future__ import annotations

import io

import segno

SCALE = 8  # pixels per module in the PNG: about 3 cm wide at 300 dpi, easy for a gate's scanner
BORDER = 4  # the quiet zone the QR standard asks for


def make(token: str):
    # Error correction M (15 %): a creased print still reads; the token is short, so the code stays small.
    return segno.make_qr(token, error="m")


def svg(token: str) -> bytes:
    out = io.BytesIO()
    make(token).save(out, kind="svg", scale=SCALE, border=BORDER, xmldecl=True, title="thermogate visitor pass")
    return out.getvalue()


def png(token: str) -> bytes:
    out = io.BytesIO()
    make(token).save(out, kind="png", scale=SCALE, border=BORDER)
    return out.getvalue()
