"""Tests for folding, safe terminal text and search tokens (tui_crm.domain.text)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tui_crm.domain.text import fold, preview, safe_text, search_terms

CYRILLIC = "".join(chr(c) for c in range(0x0400, 0x0460))  # basic Russian block + extras


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ЁЛКА", "елка"),
        ("Ёлка", "ёлка"),
        ("  Иван   Петров ", "иван петров"),
        ("ООО «Ромашка»", "ооо «ромашка»"),
        ("Straße", "STRASSE"),
        ("ＡＢＣ", "abc"),  # full-width, NFKC
        ("е\u0308лка", "елка"),  # decomposed ё
        ("Tab\tand\nnewline", "tab and newline"),
    ],
)
def test_fold_equal_pairs(a: str, b: str) -> None:
    assert fold(a) == fold(b)


def test_fold_keeps_й_and_distinguishes_letters() -> None:
    assert fold("Йошкар-Ола") == "йошкар-ола"
    assert fold("и") != fold("й")
    assert fold("е") != fold("э")


@given(st.text(alphabet=CYRILLIC + " \t\n-", max_size=40))
def test_fold_of_cyrillic_ignores_case(text: str) -> None:
    # Basic Cyrillic letters upper-case one-to-one, so upper() keeps length
    assert fold(text) == fold(text.upper()) == fold(text.lower())


@given(st.text(max_size=40))
def test_fold_is_idempotent_and_ignores_case_for_any_text(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    # upper() may change length (ß -> SS); casefold maps both sides the same way
    assert fold(text.upper()) == fold(fold(text).upper())
    assert "ё" not in once
    assert "  " not in once and once == once.strip()


# --- safe_text ---------------------------------------------------------------


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b[1;38;5;196mbold\x1b[m", "bold"),
        ("\x1b]0;evil title\x07text", "text"),
        ("\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("a\x1bPdevice control\x1b\\b", "ab"),
        ("lone\x1b", "lone"),
        ("a\x1b\nb", "a\nb"),
        ("esc \x1b escape", "esc scape"),  # ESC SP e is one sequence, as a terminal reads it
        ("\x9b31mc1 csi", "c1 csi"),
        ("\x9d0;t\x9cafter", "after"),
        ("bell\x07 back\x08space del\x7f", "bell backspace del"),
        ("line1\r\nline2\rline3", "line1\nline2\nline3"),
        ("tab\there", "tab\there"),
        ("bidi \u202eevil\u202c ok", "bidi evil ok"),
        ("Привет, мир [bold]x[/bold]", "Привет, мир [bold]x[/bold]"),
        ("\x1bcreset", "reset"),
        ("\x1b(Bcharset", "charset"),
    ],
)
def test_safe_text_examples(raw: str, expected: str) -> None:
    assert safe_text(raw) == expected


def test_safe_text_without_newlines() -> None:
    assert safe_text("a\nb\tc\r\nd\u2028e", keep_newlines=False) == "a b c d e"


def test_unterminated_osc_leaves_harmless_text() -> None:
    out = safe_text("\x1b]0;title without end")
    assert "\x1b" not in out
    assert out.endswith("title without end")


@given(st.text())
@example("\x1b\x1b[[31m")
@example("\x1b]\x1b\\\x1b")
@example("\ud800")
def test_safe_text_never_returns_control_characters(text: str) -> None:
    out = safe_text(text)
    assert "\x1b" not in out
    assert all(not _is_control(ch) or ch in "\n\t" for ch in out)
    assert "\r" not in out
    flat = safe_text(text, keep_newlines=False)
    assert not any(_is_control(ch) for ch in flat)
    assert all(unicodedata.category(ch) != "Cs" for ch in out)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp"))))
def test_safe_text_keeps_ordinary_text_unchanged(text: str) -> None:
    assert safe_text(text) == text


@given(st.text())
def test_safe_text_is_idempotent(text: str) -> None:
    once = safe_text(text)
    assert safe_text(once) == once


def test_preview_is_one_line_and_short() -> None:
    assert preview("a\nb\x1b[31m") == "a b"
    long = preview("x" * 100, limit=10)
    assert long == "x" * 9 + "…" and len(long) == 10


# --- search_terms ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("O'Brien, ООО «Ёлка»", ["o", "brien", "ооо", "елка"]),
        ("Иван Иван ИВАН", ["иван"]),
        ("+7 (916) 123-45-67", ["7", "916", "123", "45", "67"]),
        ("ivan.petrov@example.com", ["ivan", "petrov", "example", "com"]),
        ("snake_case", ["snake", "case"]),
        ("", []),
        ("  ,.;  ", []),
    ],
)
def test_search_terms_examples(raw: str, expected: list[str]) -> None:
    assert search_terms(raw) == expected


@given(st.text(max_size=60))
def test_search_terms_are_folded_alnum_and_unique(text: str) -> None:
    terms = search_terms(text)
    assert len(terms) == len(set(terms))
    for term in terms:
        assert term
        assert all(ch.isalnum() for ch in term)
        assert fold(term) == term
