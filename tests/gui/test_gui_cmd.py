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


def test_without_a_display_the_gui_says_so_instead_of_aborting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(XDG_CONFIG_HOME=str(tmp_path), HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "app", "gui", "--exit-after", "1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "no display" in proc.stderr and "live --no-preview" in proc.stderr and "DISPLAY" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_display_detection() -> None:
    from app.commands.gui_cmd import has_display

    assert not has_display({}, "Linux") and not has_display({"DISPLAY": ""}, "Linux")
    assert has_display({"DISPLAY": ":0"}, "Linux") and has_display({"WAYLAND_DISPLAY": "wayland-0"}, "Linux")
    assert has_display({"QT_QPA_PLATFORM": "offscreen"}, "Linux")
    assert has_display({}, "Windows") and has_display({}, "Darwin")


def test_cv2s_qt_plugin_path_is_dropped_before_qt_starts() -> None:
    import cv2

    from app.gui.app import drop_cv2_qt_paths

    cv2_dir = Path(cv2.__file__).parent
    env = {"QT_QPA_PLATFORM_PLUGIN_PATH": str(cv2_dir / "qt" / "plugins"), "QT_QPA_FONTDIR": str(cv2_dir / "qt/fonts"),
           "DISPLAY": ":0"}
    assert sorted(drop_cv2_qt_paths(env)) == ["QT_QPA_FONTDIR", "QT_QPA_PLATFORM_PLUGIN_PATH"]
    assert env == {"DISPLAY": ":0"}
    own = {"QT_QPA_PLATFORM_PLUGIN_PATH": "/opt/qt6/plugins"}  # the user's own setting stays
    assert drop_cv2_qt_paths(own) == [] and own == {"QT_QPA_PLATFORM_PLUGIN_PATH": "/opt/qt6/plugins"}
