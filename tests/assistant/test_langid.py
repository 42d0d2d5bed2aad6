"""Language detection: the public API, the rules, the CLI contract, and an accuracy floor on
the development set (real models, loaded once for the module)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from hashdesk.assistant.langid import (
    SUPPORTED_LANGUAGES,
    UNDETERMINED,
    Detection,
    detect,
    detect_many,
    get_detector,
)
from hashdesk.assistant.langid.chinese import chinese_script, script_only_characters
from hashdesk.assistant.langid.scripts import judge_script
from hashdesk.cli import main
from tests.conftest import shared_data


@pytest.fixture(scope="module", autouse=True)
def _models_loaded() -> None:
    get_detector()  # load once for the module, so no single test pays for it


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("My withdrawal has been pending for two hours", "en"),
        ("hi, cant log in", "en"),
        ("我的提币还没到账，怎么办？", "zh-Hans"),
        ("我的提幣還沒到帳，怎麼辦？", "zh-Hant"),
        ("出金がまだ届いていません", "ja"),
        ("입금이 아직 안 들어왔어요", "ko"),
        ("Мой вывод средств завис уже два часа", "ru"),
        ("Мій вивід коштів завис уже дві години", "uk"),
        ("Mi retiro lleva dos horas pendiente", "es"),
        ("hola, no puedo entrar a mi cuenta", "es"),
        ("Meu saque está pendente há duas horas", "pt"),
        ("Mon retrait est en attente depuis deux heures", "fr"),
        ("salut, je n'arrive pas à me connecter", "fr"),
        ("Meine Auszahlung hängt seit zwei Stunden", "de"),
        ("Il mio prelievo è in sospeso da due ore", "it"),
        ("Para çekme işlemim iki saattir bekliyor", "tr"),
        ("Lệnh rút tiền của tôi đang chờ xử lý hai giờ rồi", "vi"),
        ("Penarikan saya tertunda selama dua jam", "id"),
        ("การถอนเงินของฉันค้างอยู่สองชั่วโมงแล้ว", "th"),
        ("عملية السحب معلقة منذ ساعتين", "ar"),
        ("برداشت من دو ساعت است که در انتظار است", "fa"),
        ("Moja wypłata czeka od dwóch godzin", "pl"),
        ("Mijn opname staat al twee uur in behandeling", "nl"),
        ("मेरी निकासी दो घंटे से लंबित है", "hi"),
    ],
)
def test_each_supported_language_is_detected(text: str, lang: str) -> None:
    detection = detect(text)
    assert detection.lang == lang
    assert 0.5 < detection.confidence <= 1.0


def test_identifiers_in_a_message_do_not_decide_its_language() -> None:
    message = "deposit 0x8f3a9c2b1d4e5f60718293a4b5c6d7e8f9012345 not arrived, see https://bscscan.com/tx/0xabc"
    assert detect(message).lang == "en"
    assert detect("Mon dépôt TRC20 TXo8f3a9c2b1d4e5f6071 n'est pas arrivé").lang == "fr"


def test_simplified_and_traditional_chinese_are_told_apart_by_their_own_characters() -> None:
    simplified_only, traditional_only = script_only_characters()
    assert {"们", "这", "说", "币"} <= simplified_only
    assert {"們", "這", "說", "幣"} <= traditional_only
    # Characters both scripts write are evidence for neither.
    assert not {"了", "台", "么", "的"} & (simplified_only | traditional_only)
    assert chinese_script("这是我们的").lang == "zh-Hans"
    assert chinese_script("這是我們的").lang == "zh-Hant"
    no_evidence = chinese_script("我是日本人")
    assert no_evidence.lang == "zh-Hant" and no_evidence.confidence < 0.8
    # Latin names inside a Chinese sentence do not make it Latin.
    assert detect("比特币 (Bitcoin) 和以太坊 (Ethereum) 的提现手续费是多少？").lang == "zh-Hans"


def test_ukrainian_and_russian_are_told_apart() -> None:
    assert detect("Я не можу увійти в акаунт").lang == "uk"
    assert detect("Я не могу войти в аккаунт").lang == "ru"
    assert detect("Дякую за допомогу!").lang == "uk"
    assert detect("Спасибо за помощь!").lang == "ru"
    assert judge_script("їжак").lang == "uk"  # ї is Ukrainian only


def test_persian_and_arabic_are_told_apart() -> None:
    assert detect("چطور می‌توانم رمز عبورم را تغییر بدهم؟").lang == "fa"
    assert detect("كيف يمكنني تغيير كلمة المرور؟").lang == "ar"
    assert detect("ممنون از کمک شما").lang == "fa"
    assert detect("شكرا على مساعدتك").lang == "ar"


@pytest.mark.parametrize(
    "text",
    [
        "Добры дзень, як справы? Я ўчора прыехаў.",  # Belarusian: ў
        "آپ کیسے ہیں؟ میں ٹھیک ہوں",  # Urdu: ے ٹ ں
        "佢哋喺邊度食飯？",  # Cantonese: 佢 哋 喺
        "Bon dia, com estàs? Voldria retirar els meus diners.",  # Catalan
        "Καλημέρα, πώς είστε;",  # Greek: a script no supported language writes
    ],
)
def test_unsupported_look_alikes_are_undetermined(text: str) -> None:
    detection = detect(text)
    assert detection.lang == UNDETERMINED
    assert detection.confidence > 0.5  # evidence of another language, not an empty guess


@pytest.mark.parametrize(
    "text", ["", "   ", "\t", "12345 678", "🚀🚀🚀", "?!...", "asdkjh qwe zzz", "kkkkkk"]
)
def test_texts_without_language_are_undetermined_with_no_confidence(text: str) -> None:
    assert detect(text) == Detection(UNDETERMINED, 0.0)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120))
def test_any_text_gives_a_valid_detection(text: str) -> None:
    detection = detect(text)
    assert detection.lang in SUPPORTED_LANGUAGES or detection.lang == UNDETERMINED
    assert 0.0 <= detection.confidence <= 1.0


def test_hostile_input_neither_crashes_nor_stalls() -> None:
    assert detect("\ud800 lone surrogate, still a sentence in English").lang == "en"
    assert detect("\x00\x01 Hello there, where is my deposit?").lang == "en"
    assert (
        detect("ｈｅｌｌｏ, ｗｈｅｒｅ ｉｓ ｍｙ ｄｅｐｏｓｉｔ?").lang == "en"
    )  # full-width Latin
    start = time.perf_counter()
    assert detect("Where is my deposit? " * 50_000).lang == "en"  # only the start is read
    assert time.perf_counter() - start < 0.5


def test_detection_is_a_frozen_value_and_detect_many_keeps_order() -> None:
    texts = ["Good morning", "Bonjour à tous", "", "Guten Morgen zusammen"]
    detections = detect_many(texts)
    assert [d.lang for d in detections] == ["en", "fr", UNDETERMINED, "de"]
    with pytest.raises(AttributeError):
        detections[0].lang = "fr"  # type: ignore[misc]
    assert all(d.lang in SUPPORTED_LANGUAGES or d.lang == UNDETERMINED for d in detections)


def test_detect_is_safe_from_many_threads() -> None:
    texts = [
        "Good morning, my deposit is missing",
        "Доброе утро, мой депозит пропал",
        "早上好，我的充值不见了",
    ]
    expected = [detect(text) for text in texts]
    failures: list[str] = []

    def worker() -> None:
        for _ in range(50):
            for text, want in zip(texts, expected, strict=True):
                if detect(text) != want:
                    failures.append(text)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_cli_prints_one_json_object_per_line() -> None:
    stdin = (
        "Where is my deposit?\n\n   \nГде мой депозит?\n为什么我的充值还没到？\n12345\n".encode()
    )
    result = CliRunner().invoke(main, ["lang", "detect"], input=stdin)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 6
    objects = [json.loads(line) for line in lines]
    assert all(set(o) == {"lang", "confidence"} for o in objects)
    assert [o["lang"] for o in objects] == ["en", "und", "und", "ru", "zh-Hans", "und"]
    assert objects[1] == {"lang": "und", "confidence": 0.0}
    assert all(0.0 <= o["confidence"] <= 1.0 for o in objects)


def test_cli_survives_bytes_that_are_not_utf8() -> None:
    stdin = b"\xff\xfe\xfa broken \x80\n" + b"Merci beaucoup pour votre aide\n" + b"\xc3\x28\r\n"
    result = CliRunner().invoke(main, ["lang", "detect"], input=stdin)
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.output.splitlines()]
    assert len(objects) == 3
    assert objects[1]["lang"] == "fr"


def test_cli_answers_each_line_before_the_next_arrives() -> None:
    """In a pipe, the answer to a line comes out while stdin is still open."""
    process = subprocess.Popen(
        # The command group alone: the same code as `hashdesk lang detect`, without
        # importing every domain of the CLI.
        [
            sys.executable,
            "-c",
            "from hashdesk.assistant.langid.commands import lang; lang()",
            "detect",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": ""},
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        for text, lang in [("Hallo, wie geht es dir?", "de"), ("Ciao, come stai oggi?", "it")]:
            process.stdin.write(text.encode() + b"\n")
            process.stdin.flush()
            answer = json.loads(process.stdout.readline())
            assert answer["lang"] == lang
    finally:
        process.stdin.close()
        assert process.wait(timeout=30) == 0


def test_accuracy_on_the_tatoeba_development_set_stays_above_the_floor() -> None:
    tatoeba = shared_data("langid_tatoeba/dev.tsv")
    rows = [line.split("\t", 2) for line in tatoeba.read_text(encoding="utf-8").splitlines()[1:]]
    detections = detect_many(text for _, _, text in rows)
    supported = [
        (label, d.lang)
        for (label, _, _), d in zip(rows, detections, strict=True)
        if label != "other"
    ]
    accuracy = sum(label == lang for label, lang in supported) / len(supported)
    chinese = [(label, lang) for label, lang in supported if label.startswith("zh")]
    chinese_accuracy = sum(label == lang for label, lang in chinese) / len(chinese)
    named = {"bel", "bul", "cat", "glg", "urd"}
    lookalikes = [
        d.lang for (label, source, _), d in zip(rows, detections, strict=True) if source in named
    ]
    taken = sum(lang != UNDETERMINED for lang in lookalikes) / len(lookalikes)
    # Measured 99.45% / 99.50% / 18% when written; the targets are the floors.
    assert accuracy >= 0.993, accuracy
    assert chinese_accuracy >= 0.995, chinese_accuracy
    assert taken <= 0.30, taken
