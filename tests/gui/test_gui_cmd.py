"""`deep-live-cam gui --camera X --source IMG --live` starts straight into a live session (own process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import argparse, logging, sys
from app.commands import gui_cmd
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
parser = argparse.ArgumentParser()
gui_cmd.add_parser(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def test_gui_command_starts_live_and_exits(live_models_dir: Path, camera_video: Path, live_source_photo: Path,
                                           tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path), HOME=str(tmp_path))
    # The stand-in detector knows the scene unmirrored; the settings file says so before the first run.
    conf = tmp_path / "deep-live-cam"
    conf.mkdir()
    (conf / "Deep Live Cam.conf").write_text("[camera]\nmirror=false\n")
    cmd = [sys.executable, "-c", SCRIPT, "gui", "--camera", str(camera_video), "--source", str(live_source_photo),
           "--live", "--models-dir", str(live_models_dir), "--exit-after", "4"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "live session started: video file" in proc.stderr
    assert "Traceback" not in proc.stderr
