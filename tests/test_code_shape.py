"""The shape the code keeps: `infer/` never imports `train/` (one source of truth for what
ships), and no function in either grows past a screenful and a half."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for package in ("train", "infer") for p in (REPO / package).rglob("*.py"))
MAX_FUNCTION_LINES = 100


def test_functions_stay_short():
    long = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}: {node.name} ({lines} lines)")
    assert len(SOURCES) > 40 and not long, long


def test_infer_never_imports_train():
    found = []
    for path in (p for p in SOURCES if (REPO / "infer") in p.parents):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] == "train"]
    assert not found, found
