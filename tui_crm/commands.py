"""One registry of actions for keys, the command palette and the `?` help.

Every action a screen offers is declared once, as a ``Binding`` with an
``id`` on the class that handles it (``board.move_next``, ``app.quick_add``).
The footer shows those bindings, :class:`CrmCommands` offers them in the
command palette (ctrl+p) prefixed by their category, and the help screen
lists them: the three can never disagree. Actions worth a palette entry
but no key are declared in a class attribute ``PALETTE_ACTIONS`` of
``(id, description, action)`` tuples and collected the same way.

Ids double as keymap ids, as in posting: a ``[keymap]`` table in the
user's ``config.toml`` (``"board.move_next" = "ctrl+right"``) rebinds keys,
and footer, palette and help follow. A binding without an id (Textual's own
tab/copy plumbing) is not listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

if TYPE_CHECKING:
    from textual.screen import Screen

    from tui_crm.config import Settings

# Shown in this order in the help screen; anything else goes after them.
CATEGORY_ORDER = ("board", "nav", "form", "list", "card", "agenda", "unsorted", "outbox", "users", "app")


def load_keymap(settings: Settings) -> dict[str, str]:
    """Binding id -> keys from ``[keymap]`` in config.toml (empty if none), as
    ``load_settings`` parsed it."""
    return dict(settings.keymap)


@dataclass(frozen=True)
class ActionEntry:
    """One thing the user can do here: its key (if any), words, and target."""

    category: str
    description: str
    key: str
    action: str
    namespace: DOMNode
    enabled: bool = True
    navigation: bool = False

    @property
    def title(self) -> str:
        """``board: Move to next stage`` — how the palette lists it."""
        return f"{self.category}: {self.description}"


def _category(binding_id: str | None, namespace: DOMNode) -> tuple[str, bool]:
    """Category from the id prefix (``board.nav.left`` → board, navigation)."""
    if binding_id and "." in binding_id:
        parts = binding_id.split(".")
        return parts[0], "nav" in parts[1:-1]
    from textual.app import App

    return ("app" if isinstance(namespace, App) else type(namespace).__name__.removesuffix("Screen").lower() or "screen"), False


def screen_actions(screen: Screen[object]) -> list[ActionEntry]:
    """Every action active on ``screen`` now: its bindings, then palette-only ones.

    Built from the same binding chain Textual dispatches keys through
    (focused widget, its ancestors, the screen, the app), so what the help
    and the palette show is exactly what the keys do.
    """
    app = screen.app
    entries: list[ActionEntry] = []
    seen: set[tuple[int, str]] = set()
    for _key, active in screen.active_bindings.items():
        binding = active.binding
        if binding.system or not binding.description or not binding.id:
            continue  # Textual's own plumbing (tab, copy): not ours to list
        marker = (id(active.node), binding.action)
        category, navigation = _category(binding.id, active.node)
        display = app.get_key_display(binding)
        if marker in seen:
            # One action bound to several keys: show them together.
            for index, entry in enumerate(entries):
                if (id(entry.namespace), entry.action) == marker:
                    entries[index] = ActionEntry(
                        entry.category, entry.description, f"{entry.key} {display}", entry.action, entry.namespace,
                        entry.enabled, entry.navigation,
                    )
            continue
        seen.add(marker)
        entries.append(
            ActionEntry(category, binding.description, display, binding.action, active.node, active.enabled, navigation)
        )
    for node in _chain(screen):
        for action_id, description, action in getattr(node, "PALETTE_ACTIONS", ()):
            if (id(node), action) in seen:
                continue
            seen.add((id(node), action))
            category, _ = _category(action_id, node)
            entries.append(ActionEntry(category, description, "", action, node))
    order = {name: float(index) for index, name in enumerate(CATEGORY_ORDER)}
    entries.sort(key=lambda e: order.get(e.category, order["app"] - 0.5))
    return entries


def _chain(screen: Screen[object]) -> Iterable[DOMNode]:
    """The nodes whose actions are reachable: focused widget up to the app."""
    focused = screen.focused
    nodes: list[DOMNode] = list(focused.ancestors_with_self) if focused is not None else [screen, screen.app]
    for index, node in enumerate(nodes, 1):
        if node.is_modal:
            return nodes[:index]
    return nodes


class CrmCommands(Provider):
    """Command palette provider: every action of the current screen and the app."""

    def _entries(self) -> list[ActionEntry]:
        return [e for e in screen_actions(self.screen) if e.enabled and not e.navigation]

    def _command(self, entry: ActionEntry) -> partial[object]:
        return partial(self.app.run_action, entry.action, entry.namespace)

    @staticmethod
    def _help(entry: ActionEntry) -> str | None:
        return f"key: {entry.key}" if entry.key else None

    async def discover(self) -> Hits:
        """All commands, in registry order, before anything is typed."""
        for entry in self._entries():
            yield DiscoveryHit(Text(entry.title), self._command(entry), text=entry.title, help=self._help(entry))

    async def search(self, query: str) -> Hits:
        """Commands whose ``category: description`` fuzzy-matches the query."""
        matcher = self.matcher(query)
        for entry in self._entries():
            score = matcher.match(entry.title)
            if score > 0:
                yield Hit(score, matcher.highlight(entry.title), self._command(entry), text=entry.title, help=self._help(entry))
