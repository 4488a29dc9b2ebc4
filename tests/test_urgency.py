"""Urgent topics named in so many words reach a person at once, in every chat language."""

from __future__ import annotations

import pytest

from chatserver.settings import CHAT_LANGUAGES
from chatserver.urgency import (
    ACCOUNT_HACKED,
    FORCED_LIQUIDATION,
    MARGIN_CALL,
    URGENT_PHRASES,
    urgent_topic,
)

# Sentences written for this test (not from any evaluation set), one per topic and language.
NAMED = [
    ("en", "Got a MARGIN CALL this morning, what now?", MARGIN_CALL),
    ("en", "my account was stopped out overnight!!", FORCED_LIQUIDATION),
    ("en", "I think my account got hacked", ACCOUNT_HACKED),
    ("ja", "朝起きたらロスカットされていました", FORCED_LIQUIDATION),
    ("ja", "マージンコールの通知が来ました", MARGIN_CALL),
    ("ja", "アカウントが乗っ取られたかもしれません", ACCOUNT_HACKED),
    ("zh-Hans", "我的账户昨晚爆仓了", FORCED_LIQUIDATION),
    ("zh-Hans", "账号好像被黑了", ACCOUNT_HACKED),
    ("zh-Hant", "收到追加保證金通知", MARGIN_CALL),
    ("zh-Hant", "我的帳戶被駭了怎麼辦", ACCOUNT_HACKED),
    ("ko", "마진콜 메일을 받았어요", MARGIN_CALL),
    ("ko", "계정이 해킹당한 것 같아요", ACCOUNT_HACKED),
    ("th", "พอร์ตโดนบังคับปิดทั้งหมดเลย", FORCED_LIQUIDATION),
    ("th", "บัญชีโดนแฮ็กค่ะ", ACCOUNT_HACKED),
    ("vi", "tài khoản của tôi bị hack rồi", ACCOUNT_HACKED),
    ("vi", "tôi vừa nhận margin call", MARGIN_CALL),
    ("id", "akun saya diretas kemarin", ACCOUNT_HACKED),
    ("id", "posisi saya dilikuidasi tadi malam", FORCED_LIQUIDATION),
    ("ms", "akaun saya telah digodam", ACCOUNT_HACKED),
    ("ms", "saya dapat margin call tadi", MARGIN_CALL),
    ("ar", "تم اختراق حسابي", ACCOUNT_HACKED),
    ("ar", "وصلني نداء الهامش", MARGIN_CALL),
    ("es", "me llegó una llamada de margen", MARGIN_CALL),
    ("es", "creo que me hackearon la cuenta", ACCOUNT_HACKED),
    ("pt", "recebi uma chamada de margem", MARGIN_CALL),
    ("pt", "minha conta foi invadida", ACCOUNT_HACKED),
    ("fr", "j'ai reçu un appel de marge", MARGIN_CALL),
    ("fr", "mon compte a été piraté", ACCOUNT_HACKED),
    ("de", "Mein Depot wurde zwangsliquidiert", FORCED_LIQUIDATION),
    ("de", "mein konto ist gehackt worden", ACCOUNT_HACKED),
    ("it", "ho ricevuto una chiamata di margine", MARGIN_CALL),
    ("it", "il mio account è stato hackerato", ACCOUNT_HACKED),
]


@pytest.mark.parametrize(("language", "text", "topic"), NAMED)
def test_an_urgent_topic_named_in_so_many_words_is_found(language, text, topic):
    assert urgent_topic(text, language) == topic


def test_every_chat_language_has_phrases_for_every_urgent_topic():
    for language in CHAT_LANGUAGES:
        assert set(URGENT_PHRASES[language]) == {MARGIN_CALL, FORCED_LIQUIDATION, ACCOUNT_HACKED}


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "How do I change my leverage?"),
        ("en", "is there a hackathon for your API?"),  # whole words only where words are spaced
        ("en", "What margin do I need for gold?"),
        ("ja", "MT5のパスワードを忘れました"),
        ("de", "Wie hoch ist der Spread bei EURUSD?"),
        ("fr", "Quels sont vos horaires ?"),
        ("th", "ถอนเงินกี่วันได้คะ"),
        ("en", ""),
    ],
)
def test_ordinary_questions_are_not_urgent(language, text):
    assert urgent_topic(text, language) is None


def test_english_trade_words_count_in_any_language():
    assert urgent_topic("ayer tuve un stop out en mi cuenta", "es") == FORCED_LIQUIDATION
    assert urgent_topic("hôm qua bị margin call", "vi") == MARGIN_CALL
