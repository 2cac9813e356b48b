"""One benchmark, before and after a change, in the same run: the code at REV (a temporary git worktree)
and the working tree take turns (REV, now, REV, now, ...), so a noisy neighbour on the machine hits both alike.
Each run writes the benchmark's own JSON; both sides' results go to benchmarks/results/<name>.before_after.json.

    python -m benchmarks.before_after live_loop --base 6346792 [--after REV] [--repeats 2] [-- ARGS]

The faithful models' cache (benchmarks/.cache) is shared with the worktree, so REV does not rebuild them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.run_all import BENCHMARKS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _result_file(name: str) -> str:
    return f"{name}.json"


def _run(tree: Path, name: str, extra: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *BENCHMARKS[name], *extra], cwd=tree, check=True,
                   env={"PYTHONPATH": str(tree), **_env()})
    data: dict[str, Any] = json.loads((tree / "benchmarks" / "results" / _result_file(name)).read_text())
    data["_seconds"] = round(time.perf_counter() - t0, 1)
    return data


def _worktree(path: Path, rev: str) -> Path:
    subprocess.run(["git", "worktree", "add", "--detach", str(path), rev], cwd=ROOT, check=True, capture_output=True)
    cache = ROOT / "benchmarks" / ".cache"
    cache.mkdir(exist_ok=True)
    (path / "benchmarks" / ".cache").symlink_to(cache, target_is_directory=True)
    return path


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--base", required=True, help="the revision before the change")
    parser.add_argument("--after", help="the revision after the change (default: the working tree as it is)")
    parser.add_argument("--repeats", type=int, default=2)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    args.extra = argv[cut + 1:]  # the benchmark's own arguments
    base = subprocess.run(["git", "rev-parse", "--short", args.base], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", args.after or "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    after_label = head if args.after else f"{head} + working tree"
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="dlc-before-") as tmp:
        trees = {"before": _worktree(Path(tmp) / "before", base)}
        trees["after"] = _worktree(Path(tmp) / "after", head) if args.after else ROOT
        try:
            for i in range(args.repeats):
                for side, tree in trees.items():
                    print(f"=== {args.name} {side} ({base if side == 'before' else after_label}) #{i + 1}",
                          flush=True)
                    runs[side].append(_run(tree, args.name, args.extra))
        finally:
            for tree in trees.values():
                if tree != ROOT:
                    subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    out = RESULTS / f"{args.name}.before_after.json"
    out.write_text(json.dumps({"benchmark": args.name, "before": base, "after": after_label,
                               "order": "interleaved, before first", "runs": runs}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
