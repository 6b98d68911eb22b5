"""The one message catalogue (messages.json): Simplified Chinese by default, English on request.

The browser loads the same file (/static/messages.json) for the app; the
server uses it for the pages it renders itself (login, the printable report).
The language is the ``tg_lang`` cookie (``zh`` or ``en``), a preference, not a
secret.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

CATALOGUE = Path(__file__).with_name("messages.json")
LANGUAGES = ("zh", "en")
DEFAULT = "zh"
LANG_COOKIE = "tg_lang"


@functools.lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    data = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    return {lang: data[lang] for lang in LANGUAGES}


def language(cookies) -> str:
    lang = cookies.get(LANG_COOKIE, DEFAULT)
    return lang if lang in LANGUAGES else DEFAULT


def t(lang: str, key: str, **values) -> str:
    text = catalogue()[lang].get(key) or catalogue()[DEFAULT].get(key) or key
    return text.format(**values) if values else text
