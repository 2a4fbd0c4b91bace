"""The shape of the code: domain folders import each other in one direction only, and the
shared places (realtime/, infra/) import no domain. Read from the source, so a new import
that closes a cycle fails here before it confuses anyone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "moot"
DOMAINS = {
    "accounts",
    "identity",
    "rooms",
    "chat",
    "media",
    "transcription",
    "ops",
    "spaces",
    "channels",
    "messages",
}
SHARED = {"realtime", "infra"}


def folder_imports() -> dict[str, set[str]]:
    """For each folder under src/moot, the other folders its modules import."""
    graph: dict[str, set[str]] = {}
    for path in SRC.glob("*/*.py"):
        folder = path.parent.name
        edges = graph.setdefault(folder, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "moot" and len(parts) > 1 and parts[1] != folder:
                    edges.add(parts[1])
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph.get(node, set()) & (DOMAINS | SHARED)):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_domain_folders_import_each_other_in_one_direction_only() -> None:
    graph = folder_imports()
    assert set(graph) >= DOMAINS | SHARED
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


@pytest.mark.parametrize("shared", sorted(SHARED))
def test_shared_places_import_no_domain(shared: str) -> None:
    # realtime/api.py is the gateway's HTTP edge: it reaches services through the composition
    # root like every handler; the machinery (hub, gateway, log, topics) imports no domain.
    graph: dict[str, set[str]] = {}
    for path in (SRC / shared).glob("*.py"):
        if path.name == "api.py":
            continue
        imported = {
            node.module.split(".")[1]
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("moot.")
        }
        graph[path.name] = imported & DOMAINS
    assert all(not domains for domains in graph.values()), graph


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"rooms": {"chat"}, "chat": {"rooms"}}) == ["chat", "rooms", "chat"]


def test_a_domain_store_is_used_by_its_own_domain_only() -> None:
    """A domain asks another domain's service, never its store (the composition root, which
    builds the stores, is the one place outside a domain that names them)."""
    strays: list[str] = []
    for path in SRC.glob("*/*.py"):
        folder = path.parent.name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            parts = node.module.split(".")
            names = {alias.name for alias in node.names}
            owner = parts[1] if len(parts) > 1 else ""
            names_a_store = parts[2:3] == ["store"] or (len(parts) == 2 and "store" in names)
            if owner in DOMAINS and owner != folder and names_a_store:
                strays.append(f"{folder}/{path.name} imports {node.module} store")
    assert strays == []
