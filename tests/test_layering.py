"""The dependency rule, checked on the source: `pipeline` imports nothing of ours, the settings
parse the environment without the pipeline, and no module imports itself in a circle."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.platforms import PLATFORM_KEYS
from socialopt.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
OURS = ("pipeline", "socialopt", "bot", "storage", "api")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(*packages: str) -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in packages
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _imports(path: Path, name: str = "") -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import anywhere in the file: top level, inside
    functions, under `if TYPE_CHECKING:`, and `importlib.import_module("...")` with a literal.
    `name` is the file's module name (by default, from its place in the repository)."""
    name = name or _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parent = package[: len(package) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def test_the_import_walker_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The rule below is only as good as this walker: it must see hidden imports too."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "import importlib\n"
        "if TYPE_CHECKING:\n"
        "    from socialopt.settings import Settings\n"
        "def f():\n"
        "    import bot.app\n"
        "    return importlib.import_module('storage.cache')\n"
        "from . import models\n"
    )
    probe = tmp_path / "probe.py"
    probe.write_text(source, encoding="utf-8")
    found = {module for _, module in _imports(probe, "pipeline.probe")}
    assert {"socialopt.settings", "bot.app", "storage.cache", "pipeline.models"} <= found


def test_pipeline_imports_nothing_of_ours() -> None:
    """`pipeline` takes plain configs; only socialopt/wiring.py reads the settings."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _modules("pipeline").values()
        for line, module in _imports(path)
        if _top(module) in {"socialopt", "bot", "storage", "api"}
    ]
    assert offenders == []


def test_settings_do_not_import_the_pipeline() -> None:
    path = ROOT / "socialopt" / "settings.py"
    assert [m for _, m in _imports(path) if _top(m) in OURS] == []
    # and not through anything else either: import it alone in a fresh interpreter
    code = (
        "import sys, socialopt.settings; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'pipeline', 'bot'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_default_platforms_are_the_pipelines_platforms() -> None:
    """settings.ALL_PLATFORMS is a copy of the pipeline's table (settings may not import it)."""
    assert Settings().default_platforms == PLATFORM_KEYS


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_in_a_circle() -> None:
    """Every import counts, including TYPE_CHECKING and function-level ones: a circle hidden
    behind a late import is still a circle in the design."""
    modules = _modules(*OURS)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for _, module in _imports(path):
            parts = module.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            if parts and ".".join(parts) != name:
                deps.add(".".join(parts))
        graph[name] = deps
    assert _cycles(graph) == []
    # the checker itself finds a circle when there is one
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", OURS)
def test_every_module_imports_on_its_own(package: str) -> None:
    """Each module imported first, in a fresh module table: an import-order-dependent circle
    fails here with ImportError."""
    names = [n for n in _modules(package) if not n.endswith("__main__")]
    code = (
        "import importlib, sys\n"
        f"names = {names!r}\n"
        "failed = []\n"
        "for name in names:\n"
        "    for m in [m for m in sys.modules if m.split('.')[0] in %r]:\n"
        "        del sys.modules[m]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(failed))\n"
    ) % (set(OURS),)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_use_cases_know_no_front_door() -> None:
    """`socialopt/usecases` serve the bot, CLI, API and worker alike: no Telegram, no HTTP
    framework, no settings (the composition root hands them what they need)."""
    front_doors = {"telegram", "bot", "api", "fastapi", "starlette", "celery"}
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in (ROOT / "socialopt" / "usecases").rglob("*.py")
        for line, module in _imports(path)
        if _top(module) in front_doors
        or module.startswith(("socialopt.settings", "socialopt.wiring"))
    ]
    assert offenders == []


# Domain modules a handler must reach through a use case, never directly.
DOMAIN = (
    "PIL",
    "pipeline.providers",
    "pipeline.captions",
    "pipeline.hashtags",
    "pipeline.niches",
    "pipeline.accounts",
    "pipeline.job",
    "pipeline.serialize",
)


def test_handlers_hold_no_domain_logic() -> None:
    """Handlers turn an update into a use-case call and a reply (PTB's examples/ style)."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in (ROOT / "bot" / "handlers").rglob("*.py")
        for line, module in _imports(path)
        if module.startswith(DOMAIN)
    ]
    assert offenders == []
