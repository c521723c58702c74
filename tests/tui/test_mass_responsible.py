"""Mass "change responsible" from the deals list: the deals and their open
tasks change hands, checked in the database afterwards."""

from __future__ import annotations

import pytest
from screens_fixtures import SIZE, ScreensApp, seed_screens, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture

from tui_crm.screens.lists import ListScreen
from tui_crm.screens.mass_action import ChoiceScreen
from tui_crm.services.context import Crm
from tui_crm.services.deals import get_deal
from tui_crm.services.tasks import tasks_of
from tui_crm.services.users import add_user

pytestmark = pytest.mark.anyio
MASS_ACTIONS = ["stage", "responsible", "task", "tag_add", "tag_remove", "delete"]


async def test_new_responsible_takes_the_deals_and_their_open_tasks(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    add_user(screens_crm, "Борис")
    before = {t.id: t.responsible for t in tasks_of(screens_crm, ids["deal"], include_done=False)}
    assert before and set(before.values()) == {screens_crm.user_name}
    notices: list[str] = []
    app = ScreensApp(screens_crm, lambda: ListScreen("deals"))
    async with app.run_test(size=SIZE) as pilot:
        app.notify = lambda message, **_: notices.append(str(message))  # type: ignore[method-assign]
        await settle(pilot)
        row = next(i for i in range(3) if app.screen.query_one("#list-table").row_at(i).id == ids["deal"])  # type: ignore[attr-defined]
        await pilot.press(*["down"] * row, "space", "m")
        await settle(pilot)
        await pilot.press(*["down"] * MASS_ACTIONS.index("responsible"), "enter")
        await settle(pilot)
        users = app.screen
        assert isinstance(users, ChoiceScreen)
        await pilot.press(*["down"] * [label for _, label in users.options].index("Борис"), "enter")
        await settle(pilot)
    assert get_deal(screens_crm, ids["deal"]).responsible == "Борис"
    after = tasks_of(screens_crm, ids["deal"], include_done=False)
    assert {t.responsible for t in after} == {"Борис"}
    assert any(f"{len(before)} open task(s) went along" in n for n in notices), notices
    assert get_deal(screens_crm, ids["deal2"]).responsible == screens_crm.user_name  # not selected, not changed
