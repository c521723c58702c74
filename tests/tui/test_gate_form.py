"""The gate form on its own: one input per missing field, checked as typed.

A tiny host app pushes ``GateForm`` and records what it dismisses with. The
store gets a pipelines file with an extra date field so every input kind
(select, yes/no, date, money, url, text) is exercised.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Input, Label, Select

from tui_crm.config import load_settings
from tui_crm.domain.errors import MissingField
from tui_crm.services.context import Crm, default_pipelines_text, open_crm
from tui_crm.widgets.gate_form import GateForm, field_id
from tui_crm.widgets.plain_text import SafeInput

pytestmark = pytest.mark.anyio

EXTRA_FIELDS = """
[fields.deal.start_date]
label = "Дата старта"
type = "date"

[fields.deal.nda]
label = "NDA подписан"
type = "bool"
"""

MISSING = [
    MissingField("budget_rub", "Бюджет (RUB)", "money"),
    MissingField("segment", "Сегмент", "select", ["A", "B", "C", "D"]),
    MissingField("start_date", "Дата старта", "date"),
    MissingField("nda", "NDA подписан", "bool"),
    MissingField("estimate_link", "Ссылка на оценку", "url"),
    MissingField("city", "Город", "text"),
]


@pytest.fixture
def form_crm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Crm]:
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "pipelines.toml").write_text(default_pipelines_text() + EXTRA_FIELDS, encoding="utf-8")
    monkeypatch.setenv("CRM_CONFIG_DIR", str(config))
    settings = load_settings(db=tmp_path / "crm.db", user="Анна")
    settings.timezone = "Europe/Moscow"
    store = open_crm(settings)
    yield store
    store.close()


class Host(App[None]):
    """Pushes one GateForm and keeps what it returned."""

    def __init__(self, crm: Crm, form: GateForm) -> None:
        super().__init__()
        self.crm = crm
        self.form = form
        self.results: list[dict[str, str] | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.form, self.results.append)


def make_form(**kwargs: Any) -> GateForm:
    return GateForm("Сайт [b]для[/b] Магнита", "Квалификация", MISSING, **kwargs)


def error_of(form: GateForm, key: str) -> str:
    return str(form.query_one(f"#{field_id(key)}-error", Label).render())


async def test_each_missing_field_gets_the_input_its_type_needs(form_crm: Crm) -> None:
    form = make_form()
    async with Host(form_crm, form).run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        kinds = {m.key: type(form.query_one(f"#{field_id(m.key)}")) for m in MISSING}
        text = SafeInput  # an input box whose value is always cleaned of escape sequences
        assert kinds == {
            "budget_rub": text, "segment": Select, "start_date": text, "nda": Select, "estimate_link": text, "city": text,
        }
        assert form.query_one(f"#{field_id('start_date')}", Input).placeholder.startswith("2026-12-01")
        segment: Select[str] = form.query_one(f"#{field_id('segment')}", Select)
        assert [value for _, value in segment._options if value is not Select.NULL] == ["A", "B", "C", "D"]
        assert form.focused is form.query_one(f"#{field_id('budget_rub')}")
        title = str(form.query_one("#gate-title", Label).render())
        assert "Сайт [b]для[/b] Магнита" in title  # untrusted name shown literally


async def test_values_are_validated_as_typed(form_crm: Crm) -> None:
    form = make_form()
    async with Host(form_crm, form).run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.press(*"полтора")
        assert "not an amount" in error_of(form, "budget_rub")
        await pilot.press("ctrl+u", *"1,5 млн")
        assert error_of(form, "budget_rub") == ""
        date = form.query_one(f"#{field_id('start_date')}", Input)
        date.focus()
        await pilot.press(*"31.02.2027")
        await pilot.pause()
        assert "date" in error_of(form, "start_date")
        date.value = "завтра"
        await pilot.pause()
        assert error_of(form, "start_date") == ""
        link = form.query_one(f"#{field_id('estimate_link')}", Input)
        link.value = "not a link"
        await pilot.pause()
        assert error_of(form, "estimate_link") != ""


async def test_save_refuses_until_every_field_is_filled(form_crm: Crm) -> None:
    form = make_form()
    host = Host(form_crm, form)
    async with host.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.press(*"2 000 000")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert host.results == []
        assert "required" in error_of(form, "segment")
        assert form.focused is form.query_one(f"#{field_id('segment')}")
        form.query_one(f"#{field_id('segment')}", Select).value = "C"
        form.query_one(f"#{field_id('start_date')}", Input).value = "2027-01-15"
        form.query_one(f"#{field_id('nda')}", Select).value = "yes"
        form.query_one(f"#{field_id('estimate_link')}", Input).value = "disk.example.com/estimate"
        form.query_one(f"#{field_id('city')}", Input).value = " Пермь "
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert host.results == [
            {
                "budget_rub": "2 000 000",
                "segment": "C",
                "start_date": "2027-01-15",
                "nda": "yes",
                "estimate_link": "disk.example.com/estimate",
                "city": "Пермь",
            }
        ]


async def test_escape_returns_nothing(form_crm: Crm) -> None:
    form = make_form()
    host = Host(form_crm, form)
    async with host.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.press(*"100", "escape")
        await pilot.pause()
        assert host.results == [None]


async def test_carried_values_and_service_errors_are_shown(form_crm: Crm) -> None:
    form = GateForm(
        "Сделка",
        "Договор",
        [MissingField("city", "Город", "text")],
        values={"segment": "A", "city": "Тверь"},
        errors={"city": "the service said no"},
        message="Still missing — fill these too:",
    )
    host = Host(form_crm, form)
    async with host.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert form.raw_value("city") == "Тверь"
        assert error_of(form, "city") == "the service said no"
        assert "Still missing" in str(form.query_one("#gate-message", Label).render())
        await pilot.press("ctrl+s")  # same value: the service's refusal still stands
        await pilot.pause()
        assert host.results == []
        form.query_one(f"#{field_id('city')}", Input).value = "Тула"
        await pilot.pause()
        assert error_of(form, "city") == ""
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert host.results == [{"segment": "A", "city": "Тула"}]
