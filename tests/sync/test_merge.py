"""The three-way merge on its own (pure)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tui_crm.sync.merge import merge

VALUES = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]), st.integers(0, 3))
TAGS = st.lists(st.sampled_from(["vip", "hot", "new"]), unique=True).map(sorted)


def test_different_fields_both_survive_and_the_same_field_conflicts() -> None:
    base = {"name": "A", "budget_rub": 100, "city": "X"}
    local = {"name": "B", "budget_rub": 200, "city": "X"}
    remote = {"name": "A", "budget_rub": 300, "city": "Y"}
    result = merge(base, local, remote)
    assert result.to_remote == {"name": "B"}
    assert result.to_local == {"city": "Y"}
    assert [(c.field, c.base, c.local, c.remote) for c in result.conflicts] == [("budget_rub", 100, 200, 300)]
    assert result.base["budget_rub"] == 100  # stays a conflict until resolved


def test_sets_merge_element_by_element() -> None:
    result = merge({"tags": ["a", "b"]}, {"tags": ["a", "b", "local"]}, {"tags": ["b", "remote"]})
    assert result.to_local == {"tags": ["b", "local", "remote"]}
    assert result.to_remote == {"tags": ["b", "local", "remote"]}
    assert not result.conflicts


def test_without_a_base_local_values_win_and_fill_gaps() -> None:
    result = merge(None, {"name": "Local", "city": None}, {"name": "Remote", "city": "Z"})
    assert result.to_remote == {"name": "Local"} and result.to_local == {"city": "Z"} and not result.conflicts
    partial = merge({"name": "Same"}, {"name": "Same", "responsible_id": "me"}, {"name": "Same", "responsible_id": "admin"})
    assert partial.to_remote == {"responsible_id": "me"} and not partial.conflicts


def test_empty_values_are_all_the_same() -> None:
    assert not merge({"city": None}, {"city": ""}, {"city": None}).changed
    assert not merge({"tags": []}, {"tags": None}, {}).changed


@settings(max_examples=200, deadline=None)
@given(
    base=st.fixed_dictionaries({"x": VALUES, "y": VALUES, "tags": TAGS}),
    local=st.fixed_dictionaries({"x": VALUES, "y": VALUES, "tags": TAGS}),
    remote=st.fixed_dictionaries({"x": VALUES, "y": VALUES, "tags": TAGS}),
)
def test_applying_a_merge_converges_except_for_conflicts(base: dict, local: dict, remote: dict) -> None:
    result = merge(base, local, remote)
    new_local = {**local, **result.to_local}
    new_remote = {**remote, **result.to_remote}
    conflicted = {c.field for c in result.conflicts}
    for name in base:
        if name not in conflicted:
            assert new_local[name] == new_remote[name] or (not new_local[name] and not new_remote[name])
    again = merge(result.base, new_local, new_remote)
    assert not again.to_local and not again.to_remote  # idempotent: nothing moves a second time
    assert {c.field for c in again.conflicts} == conflicted


def test_sync_code_never_imports_textual_and_the_cli_loads_it_lazily() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "import tui_crm.cli.main\n"
        "assert not [m for m in sys.modules if m.startswith(('tui_crm.sync.engine', 'httpx', 'rich'))]\n"
        "import tui_crm.services.sync, tui_crm.sync.engine, tui_crm.sync.amocrm.adapter, tui_crm.cli.commands_sync\n"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith('textual.')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
