"""Urgent topics named in so many words: a margin call, a forced liquidation (stop-out), a
hacked account. The brief puts them on the priority line, so a person takes them at once
whatever the FAQ matcher made of the rest of the message.

The phrases are the words customers and the industry use for these events in each chat
language, not whole questions: they complement the matcher (which also flags an urgent
entry among its likely ones) where it declines or ranks a chatty message low. Pure: text
in, FAQ entry id out.
"""

from __future__ import annotations

from collections.abc import Mapping

from chatserver.handoff import normalise_phrase

MARGIN_CALL = "margin-call"
FORCED_LIQUIDATION = "forced-liquidation"
ACCOUNT_HACKED = "account-hacked"

# Languages written without spaces between words, or whose words take particles and
# prefixes (ko, ar): their phrases are found anywhere in the text; the others only as whole
# words, so that "hack" does not fire inside another word.
_SUBSTRING_LANGUAGES = frozenset({"ja", "zh-Hans", "zh-Hant", "th", "ko", "ar"})

URGENT_PHRASES: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "en": {
        MARGIN_CALL: ("margin call", "margin called"),
        FORCED_LIQUIDATION: ("stop out", "stopped out", "stop-out", "liquidated",
                             "forced liquidation", "force closed", "positions were closed"),
        ACCOUNT_HACKED: ("hacked", "hacker", "account compromised", "unauthorized access",
                         "unauthorised access", "someone logged into my account"),
    },
    "ja": {
        MARGIN_CALL: ("マージンコール", "追証", "追加証拠金"),
        FORCED_LIQUIDATION: ("ロスカット", "強制決済", "強制ロスカット", "ストップアウト"),
        ACCOUNT_HACKED: ("ハッキング", "ハッキングされ", "乗っ取", "不正ログイン", "不正アクセス"),
    },
    "zh-Hans": {
        MARGIN_CALL: ("追加保证金", "保证金追缴", "追保", "margin call"),
        FORCED_LIQUIDATION: ("强制平仓", "强平", "爆仓", "被平仓"),
        ACCOUNT_HACKED: ("被黑", "黑客", "被盗号", "盗号", "被入侵", "账户被盗"),
    },
    "zh-Hant": {
        MARGIN_CALL: ("追加保證金", "保證金追繳", "追保", "margin call"),
        FORCED_LIQUIDATION: ("強制平倉", "強平", "爆倉", "被平倉"),
        ACCOUNT_HACKED: ("被駭", "駭客", "被黑", "被盜號", "盜號", "被入侵", "帳戶被盜", "賬戶被盜"),
    },
    "ko": {
        MARGIN_CALL: ("마진콜", "마진 콜", "증거금 부족"),
        FORCED_LIQUIDATION: ("강제청산", "강제 청산", "로스컷", "스톱아웃"),
        ACCOUNT_HACKED: ("해킹", "도용", "무단 로그인", "무단 접속"),
    },
    "th": {
        MARGIN_CALL: ("มาร์จิ้นคอล", "มาร์จิ้นคอลล์", "margin call", "เรียกหลักประกัน"),
        FORCED_LIQUIDATION: ("บังคับปิด", "ถูกปิดออเดอร์", "ล้างพอร์ต", "stop out", "สต็อปเอาท์"),
        ACCOUNT_HACKED: ("แฮ็ก", "แฮก", "ถูกขโมยบัญชี", "เข้าบัญชีโดยไม่ได้รับอนุญาต"),
    },
    "vi": {
        MARGIN_CALL: ("margin call", "gọi ký quỹ", "goi ky quy"),
        FORCED_LIQUIDATION: ("stop out", "thanh lý bắt buộc", "bị thanh lý", "cháy tài khoản",
                             "chay tai khoan", "bị đóng lệnh"),
        ACCOUNT_HACKED: ("bị hack", "bi hack", "hack tài khoản", "bị đánh cắp",
                         "truy cập trái phép"),
    },
    "id": {
        MARGIN_CALL: ("margin call", "panggilan margin"),
        FORCED_LIQUIDATION: ("stop out", "likuidasi paksa", "dilikuidasi", "ditutup paksa"),
        ACCOUNT_HACKED: ("diretas", "dibajak", "di hack", "dihack", "kena hack",
                         "akses tidak sah"),
    },
    "ms": {
        MARGIN_CALL: ("margin call", "panggilan margin"),
        FORCED_LIQUIDATION: ("stop out", "pembubaran paksa", "dicairkan secara paksa",
                             "ditutup secara paksa", "ditutup paksa"),
        ACCOUNT_HACKED: ("digodam", "dicerobohi", "di hack", "dihack", "kena hack",
                         "akses tanpa kebenaran"),
    },
    "ar": {
        MARGIN_CALL: ("نداء الهامش", "طلب الهامش", "مارجن كول", "استدعاء الهامش"),
        FORCED_LIQUIDATION: ("تصفية إجبارية", "تصفية قسرية", "إغلاق إجباري", "ستوب أوت",
                             "stop out"),
        ACCOUNT_HACKED: ("اختراق", "اخترق", "مخترق", "سرقة حسابي", "تهكير", "هكر"),
    },
    "es": {
        MARGIN_CALL: ("margin call", "llamada de margen", "llamado de margen"),
        FORCED_LIQUIDATION: ("stop out", "liquidación forzosa", "liquidacion forzosa",
                             "cierre forzoso", "me liquidaron"),
        ACCOUNT_HACKED: ("hackearon", "hackeada", "hackeado", "jaqueada", "jaqueado",
                         "me robaron la cuenta", "acceso no autorizado"),
    },
    "pt": {
        MARGIN_CALL: ("margin call", "chamada de margem"),
        FORCED_LIQUIDATION: ("stop out", "liquidação forçada", "liquidacao forcada",
                             "fechamento forçado", "fui liquidado"),
        ACCOUNT_HACKED: ("hackeada", "hackeado", "hackearam", "invadida", "invadiram",
                         "acesso não autorizado"),
    },
    "fr": {
        MARGIN_CALL: ("appel de marge", "margin call"),
        FORCED_LIQUIDATION: ("stop out", "liquidation forcée", "liquidation forcee",
                             "clôture forcée", "cloture forcee", "liquidé", "liquidée"),
        ACCOUNT_HACKED: ("piraté", "piratée", "piratage", "hacké",
                         "accès non autorisé"),
    },
    "de": {
        MARGIN_CALL: ("margin call", "nachschussforderung", "nachschusspflicht"),
        FORCED_LIQUIDATION: ("stop out", "zwangsliquidation", "zwangsliquidiert",
                             "zwangsglattstellung", "zwangsweise geschlossen", "glattgestellt"),
        ACCOUNT_HACKED: ("gehackt", "gekapert", "unbefugter zugriff", "unbefugt eingeloggt"),
    },
    "it": {
        MARGIN_CALL: ("margin call", "chiamata di margine", "richiesta di margine"),
        FORCED_LIQUIDATION: ("stop out", "liquidazione forzata", "chiusura forzata",
                             "liquidato", "liquidata"),
        ACCOUNT_HACKED: ("hackerato", "hackerata", "violato", "violata", "accesso non autorizzato"),
    },
}  # fmt: skip

# The phrases as they are compared, normalised once rather than on every message.
_KEYS: Mapping[str, tuple[tuple[str, str], ...]] = {
    language: tuple(
        (topic, normalise_phrase(phrase))
        for topic, phrases in by_topic.items()
        for phrase in phrases
    )
    for language, by_topic in URGENT_PHRASES.items()
}


def urgent_topic(text: str, language: str) -> str | None:
    """The urgent FAQ entry `text` names in its language (or in English, the trade's own
    words), or None."""
    normalised = normalise_phrase(text)
    if not normalised:
        return None
    padded = f" {normalised} "
    for lang in dict.fromkeys((language, "en")):
        anywhere = lang in _SUBSTRING_LANGUAGES
        for topic, key in _KEYS.get(lang, ()):
            if (key in normalised) if anywhere else (f" {key} " in padded):
                return topic
    return None
