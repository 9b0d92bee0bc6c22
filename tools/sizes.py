"""The size limits of the code: no file over 500 lines outside tests, no function over 80 lines in the Python side.

``python tools/sizes.py`` lists what is over a limit and exits 1 if anything is. Files are the ones git tracks (and
untracked ones it does not ignore); functions are counted from their ``def`` to their last line, decorators aside.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80
CODE = (".py", ".yml", ".yaml", ".sh", ".j2", ".tf", ".cfg", ".toml")
TEST_PARTS = ("tests", "molecule")  # test code and the roles' test scenarios
# Where the function limit is checked here (the sandbox's own folders are checked by their owners' issue).
FUNCTIONS_IN = (Path("src/register_dr"),)
FUNCTIONS_NOT_IN = (Path("src/register_dr/sandbox"),)


def tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split()
    return [Path(p) for p in listed if (REPO / p).is_file()]


def long_files(files: list[Path]) -> list[str]:
    found = []
    for path in files:
        if path.suffix not in CODE or any(part in TEST_PARTS for part in path.parts):
            continue
        lines = len((REPO / path).read_text(errors="replace").splitlines())
        if lines > MAX_FILE_LINES:
            found.append(f"{path}: {lines} lines (at most {MAX_FILE_LINES})")
    return found


def long_functions(files: list[Path]) -> list[str]:
    found = []
    for path in files:
        if path.suffix != ".py" or not any(path.is_relative_to(d) for d in FUNCTIONS_IN):
            continue
        if any(path.is_relative_to(d) for d in FUNCTIONS_NOT_IN):
            continue
        for node in ast.walk(ast.parse((REPO / path).read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(f"{path}:{node.lineno} {node.name}: {lines} lines (at most {MAX_FUNCTION_LINES})")
    return found


def main() -> int:
    files = tracked_files()
    problems = long_files(files) + long_functions(files)
    print("\n".join(problems) if problems else "no file and no function over its limit")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
