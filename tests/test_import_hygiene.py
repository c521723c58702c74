"""What quick capture loads, and what the domain layer may import.

``crm add lead`` is timed against a bare "import sqlmodel, insert a row"
process (DESIGN, Quality bars), so it must not pay for the TUI (Textual),
table printing (Rich) or Alembic when the schema is already current. Each
check runs in a fresh interpreter, since the test process itself has
imported everything.

``domain/`` is pure rules: it imports nothing from storage, services, cli or
any other part of the package.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tui_crm

PACKAGE = Path(tui_crm.__file__).resolve().parent

PROBE = r"""
import json, sys
sys.argv = ["crm", "--db", sys.argv[1], "add", "lead", sys.argv[2], "--phone", sys.argv[3], "--email", sys.argv[4]]
import tui_crm.cli.main as cli
after_import = sorted(m for m in sys.modules)
code = 0
try:
    cli.run()
except SystemExit as exc:
    code = exc.code or 0
def loaded(names, top):
    return sorted(m for m in names if m == top or m.startswith(top + "."))
report = {"code": code}
for top in ("textual", "rich", "alembic", "tui_crm.screens", "tui_crm.widgets", "tui_crm.app", "tui_crm.sync", "httpx",
            "tui_crm.cli.commands_records", "tui_crm.cli.commands_work", "tui_crm.cli.commands_misc",
            "tui_crm.cli.commands_sync"):
    report[top] = {"import": loaded(after_import, top)[:5], "run": loaded(sys.modules, top)[:5]}
print("PROBE " + json.dumps(report))
"""


def run_capture(tmp_path: Path, db: Path, n: int) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("CRM_DB", "CRM_USER")}
    env["CRM_CONFIG_DIR"] = str(tmp_path / "cfg")
    env["CRM_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(db), f"Hygiene lead {n}", f"+7 916 700-00-{n:02d}", f"hygiene{n}@example.ru"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("PROBE ")), None)
    assert line is not None, done.stdout + done.stderr
    report = json.loads(line[len("PROBE ") :])
    assert report["code"] == 0, done.stdout + done.stderr
    assert "Created deal" in done.stdout
    return report


def test_add_lead_loads_no_tui_no_rich_and_no_alembic_on_a_current_schema(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    first = run_capture(tmp_path, db, 1)  # creates the file: the migration may load Alembic here
    for top in ("textual", "rich", "tui_crm.screens", "tui_crm.widgets", "tui_crm.app", "tui_crm.sync", "httpx"):
        assert first[top] == {"import": [], "run": []}, f"first `crm add lead` loaded {top}: {first[top]}"
    second = run_capture(tmp_path, db, 2)  # the everyday case: schema current
    for top in ("textual", "rich", "alembic", "tui_crm.screens", "tui_crm.widgets", "tui_crm.app", "tui_crm.sync", "httpx"):
        assert second[top] == {"import": [], "run": []}, f"`crm add lead` on a current schema loaded {top}: {second[top]}"
    # Only the module of the command being run is loaded (cli.main.LazyCommands).
    for other in ("commands_records", "commands_work", "commands_misc", "commands_sync"):
        top = f"tui_crm.cli.{other}"
        assert second[top] == {"import": [], "run": []}, f"`crm add lead` loaded {top}"


# -- domain purity ---------------------------------------------------------------------------------


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import, wherever it sits (functions, TYPE_CHECKING too)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against tui_crm.domain
                base = ["tui_crm", "domain"][: max(0, 2 - (node.level - 1))]
                name = ".".join([*base, node.module] if node.module else base)
                found += [(node.lineno, name)]
                if not node.module:
                    found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
            elif node.module == "tui_crm":  # from tui_crm import storage
                found += [(node.lineno, f"tui_crm.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module or ""))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            # importlib.import_module("tui_crm.x") / __import__("tui_crm.x")
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if fname in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


DOMAIN_FILES = sorted((PACKAGE / "domain").glob("*.py"))


def test_domain_files_exist() -> None:
    assert DOMAIN_FILES, f"no domain modules under {PACKAGE / 'domain'}"


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: p.name)
def test_domain_imports_nothing_from_the_rest_of_the_package(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [
        f"{path.name}:{line} imports {name}"
        for line, name in _imports(tree)
        if name.startswith("tui_crm.") and not (name == "tui_crm.domain" or name.startswith("tui_crm.domain."))
    ]
    assert not bad, "domain/ must import only domain/ (and the standard library/third parties): " + "; ".join(bad)


def test_the_domain_scan_catches_forbidden_imports() -> None:
    """The scanner itself: every spelling of a forbidden import is seen."""
    source = (
        "import tui_crm.storage.models\n"
        "from tui_crm.services import deals\n"
        "from tui_crm import cli\n"
        "from ..storage import engine\n"
        "def f():\n"
        "    from tui_crm.config import load_settings\n"
        "    import importlib\n"
        "    importlib.import_module('tui_crm.sync')\n"
        "from . import text\n"
        "from .money import parse_money\n"
    )
    names = [name for _, name in _imports(ast.parse(source))]
    for expected in ("tui_crm.storage.models", "tui_crm.services", "tui_crm.cli", "tui_crm.storage", "tui_crm.config",
                     "tui_crm.sync"):
        assert expected in names, (expected, names)
    assert "tui_crm.domain.money" in names and "tui_crm.domain.text" in names


# -- layers and cycles -----------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The module an ``ImportFrom`` names, relative spellings resolved against ``module``."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _names(module: str, path: Path, everywhere: bool = False) -> list[tuple[int, str]]:
    """(line, module) of each import run when the module is imported, or with ``everywhere`` of every import.

    ``from a import b`` yields ``a`` and ``a.b`` (``b`` may be a module); imports under
    ``if TYPE_CHECKING:`` are not run, so they are left out of the top level.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nodes: list[ast.stmt] = []

    def top(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.If | ast.Try | ast.With):
                top(node.body)
                for handler in getattr(node, "handlers", []):
                    top(handler.body)
                top(getattr(node, "orelse", []))
                top(getattr(node, "finalbody", []))
            else:
                nodes.append(node)

    if everywhere:
        nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    else:
        top(tree.body)
    found: list[tuple[int, str]] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            name = _absolute(module, path.name == "__init__.py", node)
            found += [(node.lineno, name)] + [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def test_sync_imports_nothing_from_services() -> None:
    """services call sync, never the reverse (``Crm`` is in tui_crm.crm, record edits in storage)."""
    bad = [
        f"{_module_name(path)}:{line} imports {name}"
        for module, path in MODULES.items()
        if module == "tui_crm.sync" or module.startswith("tui_crm.sync.")
        for line, name in _names(module, path, everywhere=True)
        if name in MODULES and (name == "tui_crm.services" or name.startswith("tui_crm.services."))
    ]
    assert not bad, "; ".join(bad)


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Which of ``modules`` each one imports at its top level (a submodule's import runs its packages too)."""
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges: set[str] = set()
        for _, name in _names(module, path):
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                target = ".".join(parts[:end])
                if target in modules and target != module and not module.startswith(target + "."):
                    edges.add(target)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_module_level_import_cycle_inside_the_package() -> None:
    assert MODULES and "tui_crm.services.context" in MODULES
    found = cycles(import_graph(MODULES))
    assert not found, "import cycles at module level: " + "; ".join(" -> ".join(c) for c in found)


def test_the_cycle_check_sees_a_cycle(tmp_path: Path) -> None:
    """The checker itself: a cycle through a package and a relative import is found; a deferred import is not."""
    package = tmp_path / "tui_crm"
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("")
    (package / "a" / "one.py").write_text("from . import two\n")
    deferred = "if TYPE_CHECKING:\n    import tui_crm.c\n"
    (package / "a" / "two.py").write_text("from typing import TYPE_CHECKING\nimport tui_crm.b\n" + deferred)
    (package / "b.py").write_text("from tui_crm.a.one import x\n")
    (package / "c.py").write_text("def f():\n    import tui_crm.a.one\n")
    modules = {".".join(p.relative_to(tmp_path).with_suffix("").parts).removesuffix(".__init__"): p
               for p in package.rglob("*.py")}
    assert cycles(import_graph(modules)) == [["tui_crm.a.one", "tui_crm.a.two", "tui_crm.b"]]
