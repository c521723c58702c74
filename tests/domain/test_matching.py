"""Properties of the keys that decide "same person" and "same company".

A phone must be found however it is typed or copied (issue 8): every way a
manager writes or pastes a number gives a query that is a prefix of one of
the terms the stored number is indexed under, and the full forms normalise
to the one E.164 the duplicate check compares. A company name must match
through legal forms, quotes, case and ё/е, and two different brands must
not.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tui_crm.domain.matching import (
    LEGAL_FORMS,
    company_name_key,
    email_key,
    phone_index_terms,
    phone_query_terms,
    phone_tail,
)
from tui_crm.domain.validation import normalize_phone


def _valid(number: tuple[int, int, int, int]) -> bool:
    import phonenumbers

    return phonenumbers.is_valid_number(phonenumbers.parse("+7{}{:03d}{:02d}{:02d}".format(*number)))


# A Russian mobile number: +7 9XX XXX XX XX, as the numbering plan allows it.
ru_mobiles = st.tuples(st.integers(900, 999), st.integers(0, 999), st.integers(0, 99), st.integers(0, 99)).filter(_valid)


def formats(code: int, a: int, b: int, c: int) -> dict[str, str]:
    """The ways people write and paste one number (issue 8 lists most of them)."""
    return {
        "8 916 555-12-34": f"8 {code} {a:03d}-{b:02d}-{c:02d}",
        "89165551234": f"8{code}{a:03d}{b:02d}{c:02d}",
        "+7 (916) 555-12-34": f"+7 ({code}) {a:03d}-{b:02d}-{c:02d}",
        "+79165551234": f"+7{code}{a:03d}{b:02d}{c:02d}",
        "7 916 5551234": f"7 {code} {a:03d}{b:02d}{c:02d}",
        "8(916)555 12 34": f"8({code}){a:03d} {b:02d} {c:02d}",
        "916 555 12 34": f"{code} {a:03d} {b:02d} {c:02d}",
        "9165551234": f"{code}{a:03d}{b:02d}{c:02d}",
    }


def partials(code: int, a: int, b: int, c: int) -> dict[str, str]:
    """Beginnings and ends of a number: what a search box gets."""
    return {
        "916 555": f"{code} {a:03d}",
        "8 916 555": f"8 {code} {a:03d}",
        "+7 916": f"+7 {code}",
        "555-12-34 (last 7 digits)": f"{a:03d}-{b:02d}-{c:02d}",
        "5551234": f"{a:03d}{b:02d}{c:02d}",
    }


def finds(query: str, e164: str) -> bool:
    terms = phone_query_terms(query)
    assert terms is not None, f"{query!r} is not taken for a phone"
    return any(term.startswith(q) for q in terms for term in phone_index_terms(e164))


@given(ru_mobiles)
def test_every_way_of_typing_a_number_finds_it(number: tuple[int, int, int, int]) -> None:
    e164 = "+7{}{:03d}{:02d}{:02d}".format(*number)
    for label, typed in {**formats(*number), **partials(*number)}.items():
        assert finds(typed, e164), label


@given(ru_mobiles)
def test_every_full_form_normalises_to_the_one_the_duplicate_check_compares(number: tuple[int, int, int, int]) -> None:
    e164 = "+7{}{:03d}{:02d}{:02d}".format(*number)
    for label, typed in formats(*number).items():
        assert normalize_phone(typed, "RU") == e164, label
        assert phone_tail(typed) == e164[-7:]


@given(ru_mobiles, ru_mobiles)
def test_a_whole_number_does_not_find_another(one: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> None:
    assume(one != other)
    e164_other = "+7{}{:03d}{:02d}{:02d}".format(*other)
    for label, typed in formats(*one).items():
        assert not finds(typed, e164_other), label


@given(st.text(alphabet="абвгдеёжзийклмнопрстуфхцчшщъыьэюяabcdefghijklmnopqrstuvwxyz ", min_size=1))
def test_text_with_letters_is_never_taken_for_a_phone(text: str) -> None:
    assume(any(ch.isalpha() for ch in text))
    assert phone_query_terms(text + " 916") is None


def test_too_few_digits_are_not_a_phone() -> None:
    assert phone_query_terms("12") is None
    assert phone_query_terms("+7 (") is None


# -- company names -----------------------------------------------------------------------------

_LEGAL_WORDS = {w.rstrip(".") for form in LEGAL_FORMS for w in form.split()}
_LETTERS = "абвгдеёжзийклмнопрстуфхцчшщыэюяabcdefghijklmnopqrstuvwxyz0123456789"
brand_words = st.text(alphabet=_LETTERS, min_size=2, max_size=10).filter(
    lambda w: w.replace("ё", "е") not in _LEGAL_WORDS and w not in _LEGAL_WORDS
)
brands = st.lists(brand_words, min_size=1, max_size=3).map(" ".join)
legal_forms = st.sampled_from(
    ["ООО", "ЗАО", "ОАО", "ПАО", "АО", "ИП", "LLC", "Ltd.", "Inc.", "GmbH", "Общество с ограниченной ответственностью"]
)
DECORATIONS = (
    "{form} «{brand}»",
    "«{form} «{brand}»»",
    '{form} "{brand}"',
    "{form} {brand}",
    "{brand}, {form}",
    "{brand} {form}",
    "«{brand}»",
    "  {brand}  ",
)


def _cases(brand: str) -> list[str]:
    return [brand, brand.upper(), brand.title(), brand.replace("е", "ё"), brand.replace("ё", "е")]


@given(brands, legal_forms, st.sampled_from(DECORATIONS))
def test_a_name_matches_through_legal_form_quotes_case_and_yo(brand: str, form: str, decoration: str) -> None:
    key = company_name_key(brand)
    for spelled in _cases(brand):
        assert company_name_key(decoration.format(form=form, brand=spelled)) == key


@given(brands, brands)
def test_different_brands_keep_different_keys(one: str, other: str) -> None:
    def words(name: str) -> list[str]:
        return name.replace("ё", "е").split()

    assume(words(one) != words(other))
    assert company_name_key(f"ООО «{one}»") != company_name_key(f"ООО «{other}»")


@given(st.text(max_size=40))
def test_the_name_key_is_stable(name: str) -> None:
    key = company_name_key(name)
    assert company_name_key(key) == key


@pytest.mark.parametrize("name", ["ООО «Ромашка»", "«ООО «Ромашка»»", "ООО Ромашка", "Ромашка", "ромашка, ооо", "ООО «РОМАШКА»"])
def test_the_issue_examples_share_one_key(name: str) -> None:
    assert company_name_key(name) == "ромашка"


def test_a_name_that_is_only_a_legal_form_keeps_it() -> None:
    assert company_name_key("АО") == "ао"


# -- e-mail -------------------------------------------------------------------------------------------


@given(st.emails())
def test_an_email_key_ignores_case(address: str) -> None:
    assert email_key(address.upper()) == email_key(address.lower()) == email_key(f"  {address} ")
