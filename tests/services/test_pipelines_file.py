"""The pipelines file: edits take effect on reload only, a broken file never
stops the store from opening (the last good configuration stays, with a
notice), mistakes name the file and line, and a reload never strands deals
in a dropped stage or pipeline.

Each test edits a real file in the test's config dir and opens a real
SQLite store on it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tui_crm.domain.errors import ConfigError, GateRefused
from tui_crm.services.context import default_pipelines_text
from tui_crm.services.deals import LeadInput, capture_lead, get_deal, move_deal
from tui_crm.services.pipelines import list_pipelines, pending_pipelines_edit, reload_pipelines

ESTIMATE = """  [[pipelines.stages]]
  key = "estimate"
  name = "Оценка"
  probability = 30
  requires = ["scope", "work_model", "project_folder"]

"""


def write(crm_env: Path, text: str | bytes) -> Path:
    crm_env.mkdir(parents=True, exist_ok=True)
    path = crm_env / "pipelines.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def without_first(text: str, block: str) -> str:
    assert block in text
    return text.replace(block, "", 1)


def line_no(text: str, needle: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[nth - 1]


# ---- edits take effect on reload only ---------------------------------------------------------


def test_an_edit_waits_for_reload(crm, open_store, crm_env):
    edited = default_pipelines_text().replace('name = "Переговоры"', 'name = "Торг"', 1)
    write(crm_env, edited)
    reopened = open_store()
    names = [s.name for s in list_pipelines(reopened)[0].stages]
    assert "Переговоры" in names and "Торг" not in names
    assert pending_pipelines_edit(reopened)
    reload_pipelines(reopened)
    assert "Торг" in [s.name for s in list_pipelines(reopened)[0].stages]
    assert not pending_pipelines_edit(open_store())


# ---- a broken file never stops anything --------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda t: t.replace('name = "Лид"', 'name = "Лид', 1), "line {lid}"),
        (lambda t: t.replace('name = "Лид"', 'name = "Лид\xff"', 1).encode("utf-8").replace(b"\xc3\xbf", b"\xff"), "line {lid}"),
        (lambda t: t.replace('key = "qualification"', 'key = "lead"', 1), "line {dup}"),
        (lambda t: t.replace('due = "+3d"', 'due = "+99999999999d"', 1), "+0d … +3650d"),
    ],
    ids=["toml-syntax", "invalid-utf8", "duplicate-stage-key", "huge-due"],
)
def test_a_broken_file_keeps_the_last_good_configuration_and_reload_names_file_and_line(
    crm, open_store, crm_env, damage, expected
):
    text = default_pipelines_text()
    lines = {"lid": line_no(text, 'name = "Лид"'), "dup": line_no(text, 'key = "qualification"')}
    path = write(crm_env, damage(text))
    reopened = open_store()  # opens: no exception
    assert [p.key for p in reopened.pipelines.pipelines] == ["sales20", "tenders", "sales_rus"]
    (notice,) = reopened.notices
    assert str(path) in notice and "last good" in notice and "crm pipelines reload" in notice
    with pytest.raises(ConfigError) as refused:
        reload_pipelines(reopened)
    message = str(refused.value)
    assert str(path) in message
    assert expected.format(**lines) in message
    # the gates still work with the last good configuration
    deal = capture_lead(reopened, LeadInput(name="Работаем"))
    with pytest.raises(GateRefused):
        move_deal(reopened, deal.id, "qualification")


def test_a_duplicate_stage_key_points_at_its_second_line(crm, crm_env):
    text = default_pipelines_text().replace('key = "qualification"', 'key = "lead"', 1)
    write(crm_env, text)
    with pytest.raises(ConfigError) as refused:
        reload_pipelines(crm)
    second_lead = line_no(text, 'key = "lead"', 2)
    assert re.search(rf"line {second_lead}: .*'lead'.*twice", str(refused.value))


def test_a_new_store_with_a_broken_file_opens_with_the_shipped_default(open_store, crm_env, tmp_path):
    write(crm_env, "[[pipelines]\n")
    fresh = open_store(db=tmp_path / "fresh.db")
    assert [p.key for p in fresh.pipelines.pipelines] == ["sales20", "tenders", "sales_rus"]
    assert len(fresh.notices) == 1


# ---- a reload never strands deals ------------------------------------------------------------


def test_dropping_a_stage_that_holds_deals_is_refused_then_moved_with_move_to(crm, crm_env, count_rows):
    deal = capture_lead(crm, LeadInput(name="В оценке"))
    move_deal(crm, deal.id, "estimate", {
        "budget_rub": "1 000 000", "budget_usd": "12000", "segment": "A", "territory": "РФ", "city": "Казань",
        "scope": "Сайт", "work_model": "Fixed price", "project_folder": "https://disk.example.com/x",
    })  # fmt: skip
    write(crm_env, without_first(default_pipelines_text(), ESTIMATE))
    before = count_rows(crm, "change_log")
    with pytest.raises(ConfigError) as refused:
        reload_pipelines(crm)
    assert "sales20/estimate" in str(refused.value) and "--move-to" in str(refused.value)
    assert count_rows(crm, "change_log") == before
    assert "estimate" in [s.key for s in list_pipelines(crm)[0].stages]
    with pytest.raises(ConfigError, match="gate needs"):  # a later stage: its gate holds
        reload_pipelines(crm, ["sales20/proposal"])
    report = reload_pipelines(crm, ["sales20/qualification"])
    assert report.moved == {"sales20/estimate → sales20/qualification": 1}
    assert get_deal(crm, deal.id).stage_key == "qualification"
    assert "estimate" not in [s.key for s in list_pipelines(crm)[0].stages]


def test_dropping_a_whole_pipeline_moves_its_deals_where_told(crm, crm_env):
    tender = capture_lead(crm, LeadInput(name="Тендер", pipeline="tenders"))
    text = default_pipelines_text()
    start = text.index("[[pipelines]]\nkey = \"tenders\"")
    end = text.index("[[pipelines]]\nkey = \"sales_rus\"")
    write(crm_env, text[:start] + text[end:])
    with pytest.raises(ConfigError, match="tenders/new_tender"):
        reload_pipelines(crm)
    with pytest.raises(ConfigError, match="no such stage"):
        reload_pipelines(crm, ["tenders=sales_rus/nowhere"])
    reload_pipelines(crm, ["tenders=sales_rus/lead"])
    moved = get_deal(crm, tender.id)
    assert (moved.pipeline_key, moved.stage_key) == ("sales_rus", "lead")
    assert [p.key for p in list_pipelines(crm)] == ["sales20", "sales_rus"]


def test_an_empty_stage_is_simply_dropped(crm, crm_env):
    write(crm_env, without_first(default_pipelines_text(), ESTIMATE))
    report = reload_pipelines(crm)
    assert report.dropped == ["sales20/estimate"] and report.moved == {}


# ---- the header names commands that exist ------------------------------------------------------


def test_the_files_header_names_only_commands_that_exist():
    import typer

    from tui_crm.cli.main import app

    group = typer.main.get_command(app)
    header = [line for line in default_pipelines_text().splitlines() if line.startswith("#")]
    named = {tuple(m.split()[1:3]) for line in header for m in re.findall(r"crm [a-z]+ [a-z]+", line)}
    assert named >= {("pipelines", "edit"), ("pipelines", "reload")}
    for top, sub in named:
        command = group.get_command(None, top)  # type: ignore[arg-type]
        assert command is not None, top
        assert sub in command.list_commands(None), f"crm {top} {sub}"  # type: ignore[attr-defined]


def test_a_reload_elsewhere_reaches_an_open_store(crm, open_store, crm_env):
    """The app keeps its store open while ``crm pipelines reload`` runs in a shell."""
    app_side = crm
    stage = '  key = "negotiation"\n  name = "Переговоры"\n'
    text = default_pipelines_text().replace(stage, stage + '  requires = ["decision_makers"]\n', 1)
    write(crm_env, text)
    reload_pipelines(open_store())  # another process
    list_pipelines(app_side)  # what the board does on every refresh
    assert "decision_makers" in app_side.pipelines.pipeline("sales20").required_fields("negotiation")


def test_deals_moved_by_a_reload_get_what_a_move_gives_them(crm, crm_env):
    """A reload's move is a move: the target stage's automatic task is set."""
    from tui_crm.services.tasks import open_tasks_of_deal

    tender = capture_lead(crm, LeadInput(name="Тендер на оценку", pipeline="tenders"))
    move_deal(crm, tender.id, "new_tender", {  # stays; fills what qualification's gate needs
        "budget_rub": "1 000 000", "budget_usd": "12000", "segment": "A", "territory": "РФ", "city": "Казань",
    })  # fmt: skip
    text = default_pipelines_text()
    start = text.index("[[pipelines]]\nkey = \"tenders\"")
    end = text.index("[[pipelines]]\nkey = \"sales_rus\"")
    write(crm_env, text[:start] + text[end:])
    reload_pipelines(crm, ["tenders=sales20/qualification"])
    with crm.read() as session:
        texts = [t.text for t in open_tasks_of_deal(session, tender.id)]
    assert "Подготовить оценку" in texts
