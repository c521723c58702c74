"""Tests for phone, e-mail, INN and URL normalisation (tui_crm.domain.validation)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.validation import (
    format_phone,
    inn_check_digits,
    normalize_email,
    normalize_phone,
    normalize_url,
    phone_digits,
    validate_inn,
)

# --- INN ---------------------------------------------------------------------


@pytest.mark.parametrize("inn", ["7707083893", "500100732259", "7736207543", "7728168971"])
def test_known_real_inns_are_valid(inn: str) -> None:
    assert validate_inn(inn) == inn


def test_inn_spaces_are_stripped() -> None:
    assert validate_inn(" 7707 083 893 ") == "7707083893"
    assert validate_inn("5001\t0073 2259") == "500100732259"


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_generated_company_inn_is_valid(prefix: str) -> None:
    inn = prefix + inn_check_digits(prefix)
    assert len(inn) == 10
    assert validate_inn(inn) == inn


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_generated_individual_inn_is_valid(prefix: str) -> None:
    inn = prefix + inn_check_digits(prefix)
    assert len(inn) == 12
    assert validate_inn(inn) == inn


W10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
W12A = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
W12B = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _residues(inn: str) -> list[int]:
    """Reference: the weighted sums mod 11 (before the final mod 10) of each check."""
    if len(inn) == 10:
        return [sum(int(d) * w for d, w in zip(inn[:9], W10, strict=True)) % 11]
    return [
        sum(int(d) * w for d, w in zip(inn[:10], W12A, strict=True)) % 11,
        sum(int(d) * w for d, w in zip(inn[:11], W12B, strict=True)) % 11,
    ]


def _reference_valid(inn: str) -> bool:
    checks = [int(c) for c in inn[-len(_residues(inn)) :]]
    return [r % 10 for r in _residues(inn)] == checks


@given(
    st.sampled_from([9, 10]).flatmap(lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)),
    st.data(),
)
def test_changing_any_one_digit_breaks_the_checksum(prefix: str, data: st.DataObject) -> None:
    """Every single-digit typo is caught, except the algorithm's own blind spot.

    All weights are below 11, so a one-digit change always changes the sum
    mod 11; only the final "mod 10" can hide it, by mapping residues 10 and
    0 to the same check digit. Check digits themselves are always caught.
    """
    inn = prefix + inn_check_digits(prefix)
    position = data.draw(st.integers(0, len(inn) - 1), label="position")
    old = inn[position]
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != old]), label="digit")
    broken = inn[:position] + new + inn[position + 1 :]
    if _reference_valid(broken):
        assert position < len(prefix), "a changed check digit must never pass"
        assert all({a, b} <= {0, 10} for a, b in zip(_residues(inn), _residues(broken), strict=True)), (
            "only a 0/10 residue collision may hide a typo"
        )
        assert validate_inn(broken) == broken
        return
    with pytest.raises(ValidationError, match="checksum"):
        validate_inn(broken)


def test_single_digit_flips_of_real_inns_are_all_rejected() -> None:
    for inn in ("7707083893", "500100732259"):
        for position in range(len(inn)):
            for digit in "0123456789":
                if digit == inn[position]:
                    continue
                broken = inn[:position] + digit + inn[position + 1 :]
                with pytest.raises(ValidationError):
                    validate_inn(broken)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("77070838", "has 8 digits"),
        ("77070838931", "has 11 digits"),
        ("77O7083893", "digits only"),
        ("7707-083-893", "digits only"),
        ("7707083894", "checksum"),
        ("500100732258", "checksum"),
        ("", "empty"),
    ],
)
def test_inn_errors_are_distinct(raw: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment) as info:
        validate_inn(raw)
    assert info.value.field_name == "inn"
    assert "7707083893" in info.value.message or fragment == "empty"


def test_unicode_digits_are_not_inn_digits() -> None:
    with pytest.raises(ValidationError, match="digits only"):
        validate_inn("٧٧٠٧٠٨٣٨٩٣")


# --- phones ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8 (916) 123-45-67", "+79161234567"),
        ("+7 916 123 45 67", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("79161234567", "+79161234567"),
        ("+1 415 555 2671", "+14155552671"),
        ("+44 20 7946 0958", "+442079460958"),
        ("8-800-555-35-35", "+78005553535"),
        ("tel:+7-495-123-45-67", "+74951234567"),
    ],
)
def test_phone_examples(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


def test_phone_region_applies_to_numbers_without_plus() -> None:
    assert normalize_phone("(415) 555-2671", region="US") == "+14155552671"
    assert normalize_phone("+7 916 123 45 67", region="US") == "+79161234567"


MOBILE_CODES = ["900", "903", "905", "910", "915", "916", "925", "926", "977", "985", "999"]


@st.composite
def russian_mobile(draw: st.DrawFn) -> tuple[str, str]:
    """A Russian mobile number and one of the many ways people write it."""
    code = draw(st.sampled_from(MOBILE_CODES))
    rest = draw(st.text(alphabet="0123456789", min_size=7, max_size=7))
    a, b, c = rest[:3], rest[3:5], rest[5:]
    template = draw(
        st.sampled_from(
            [
                "+7{code}{rest}",
                "+7 {code} {a} {b} {c}",
                "+7 ({code}) {a}-{b}-{c}",
                "8 ({code}) {a}-{b}-{c}",
                "8{code}{rest}",
                "8-{code}-{a}-{b}-{c}",
                "7{code}{rest}",
                "{code}{rest}",
                "({code}) {a} {b} {c}",
                "+7.{code}.{a}.{b}.{c}",
                "  +7 {code} {rest}  ",
            ]
        )
    )
    written = template.format(code=code, rest=rest, a=a, b=b, c=c)
    return written, f"+7{code}{rest}"


@given(russian_mobile())
def test_russian_mobile_formats_normalize_to_one_e164(case: tuple[str, str]) -> None:
    written, expected = case
    assert normalize_phone(written) == expected
    assert phone_digits(normalize_phone(written)) == expected[1:]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty"),
        ("abc", "not a phone number"),
        ("123", "not a valid phone number"),
        ("+7 916 123 45 6", "not a valid phone number"),
        ("+7 916 123 45 67 доб. 123", "extension"),
        ("+7 916 123 45 67 ext 12", "extension"),
        ("1-800-FLOWERS", "letters"),
    ],
)
def test_bad_phones(raw: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment) as info:
        normalize_phone(raw)
    assert info.value.field_name == "phone"


def test_phone_error_does_not_echo_escape_sequences() -> None:
    with pytest.raises(ValidationError) as info:
        normalize_phone("\x1b]0;pwned\x07abc")
    assert "\x1b" not in str(info.value)


def test_phone_digits_and_format() -> None:
    assert phone_digits("+79161234567") == "79161234567"
    assert format_phone("+79161234567") == "+7 916 123-45-67"
    assert format_phone("garbage") == "garbage"


# --- e-mail ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ivan.Petrov@Example.COM ", "Ivan.Petrov@example.com"),
        ("info@ПОЧТА.РФ", "info@почта.рф"),
        ("иван@почта.рф", "иван@почта.рф"),
        ("a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk"),
        ("mailto:x@y.ru", "x@y.ru"),
        ("x@xn--80a1acny.xn--p1ai", "x@xn--80a1acny.xn--p1ai"),
    ],
)
def test_good_emails(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "plain",
        "a@b",
        "a b@c.ru",
        "a@b c.ru",
        "@x.ru",
        "a@@x.ru",
        "a@x@y.ru",
        "a@.ru",
        "a@x..ru",
        "a@-x.ru",
        "a@x.r",
        ".a@x.ru",
        "a..b@x.ru",
        "a<b>@x.ru",
    ],
)
def test_bad_emails(raw: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_email(raw)
    assert info.value.field_name == "email"
    assert "e.g." in info.value.message or "254" in info.value.message


local_parts = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+_-", min_size=1, max_size=20)
labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyzабвгдежзиклмнопрстуфхцчшщэюя0123456789", min_size=2, max_size=10)


@given(local_parts, st.lists(labels, min_size=2, max_size=4))
def test_email_normalization_is_idempotent_and_keeps_local_part(local: str, domain_labels: list[str]) -> None:
    raw = f"{local}@{'.'.join(domain_labels).upper()}"
    once = normalize_email(raw)
    assert once.split("@")[0] == local
    assert once.split("@")[1] == ".".join(domain_labels)
    assert normalize_email(once) == once


# --- URLs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com/x", "https://example.com/x"),
        ("  https://example.com  ", "https://example.com"),
        ("HTTP://Example.COM:8080/A?b=C#D", "http://example.com:8080/A?b=C#D"),
        ("localhost:8000/api", "https://localhost:8000/api"),
        ("http://localhost", "http://localhost"),
        ("пример.рф/путь", "https://пример.рф/путь"),
        ("//cdn.example.com/a.js", "https://cdn.example.com/a.js"),
        ("https://10.0.0.1/x", "https://10.0.0.1/x"),
        ("https://[::1]:8080/", "https://[::1]:8080/"),
        ("docs.google.com/spreadsheets/d/abc", "https://docs.google.com/spreadsheets/d/abc"),
    ],
)
def test_good_urls(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("javascript:alert(1)", "not allowed"),
        ("JavaScript:alert(1)", "not allowed"),
        ("data:text/html,x", "not allowed"),
        ("mailto:a@b.ru", "not allowed"),
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.com", "only http and https"),
        ("https://", "no host"),
        ("https://intranet/x", "dot"),
        ("example", "dot"),
        ("https://exa mple.com", "spaces"),
        ("https://user:pw@example.com", "password"),
        ("https://example.com:99999", "port"),
        ("", "empty"),
    ],
)
def test_bad_urls(raw: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment) as info:
        normalize_url(raw)
    assert info.value.field_name == "url"


@given(st.text(max_size=40))
def test_normalize_url_only_ever_returns_http_or_https(raw: str) -> None:
    try:
        result = normalize_url(raw)
    except ValidationError:
        return
    assert result.startswith(("http://", "https://"))
    assert normalize_url(result) == result
