"""`serve --ray` and `swap --ray` refuse bad values and a missing Ray with exit 2 before any work starts
(no Ray instance is started here)."""

from __future__ import annotations

import sys

import pytest

from app.api.ray_serve import HEADROOM, ServeScale, deployment_options, parse_autoscale
from app.api.settings import ApiSettings
from app.cli import main
from app.errors import OptionError


@pytest.mark.parametrize("extra", [
    ["--ray", "--replicas", "0"],
    ["--ray", "--autoscale", "3-1"],
    ["--ray", "--autoscale", "two"],
    ["--ray", "--gpus-per-replica", "-1"],
    ["--replicas", "2"],  # without --ray
    ["--address", "auto"],
])
def test_serve_bad_values_exit_2(extra, capsys, tmp_path):
    assert main(["serve", "--models-dir", str(tmp_path), *extra]) == 2
    assert "error:" in capsys.readouterr().err


def test_serve_replicas_and_autoscale_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--ray", "--replicas", "2", "--autoscale", "1-3"])
    assert exc.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize("extra", [
    ["--chunk-seconds", "5"],  # without --ray
    ["--ray", "--chunk-seconds", "0"],
    ["--ray", "--ray-workers", "0"],
])
def test_swap_bad_values_exit_2(extra, photo_files, tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")  # never read: the options are refused first
    code = main(["swap", str(photo_files["tom_hanks"]), str(clip), "-o", str(tmp_path / "o.mp4"), *extra])
    assert code == 2, capsys.readouterr().err


def test_swap_ray_for_a_photo_exits_2(photo_files, tmp_path, capsys):
    code = main(["swap", str(photo_files["tom_hanks"]), str(photo_files["t1"]), "-o", str(tmp_path / "o.png"), "--ray"])
    assert code == 2 and "for videos" in capsys.readouterr().err


def test_without_ray_installed_the_error_names_the_extra(monkeypatch, photo_files, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    monkeypatch.setitem(sys.modules, "ray.serve", None)
    assert main(["serve", "--ray", "--models-dir", str(tmp_path)]) == 2
    assert 'deep-live-cam[scale]' in capsys.readouterr().err
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    assert main(["swap", str(photo_files["tom_hanks"]), str(clip), "-o", str(tmp_path / "o.mp4"), "--ray"]) == 2
    assert 'deep-live-cam[scale]' in capsys.readouterr().err


def test_deployment_options_follow_the_settings(tmp_path):
    settings = ApiSettings(models_dir=tmp_path, workers=2, queue_limit=3)
    fixed = deployment_options(settings, ServeScale(replicas=3, gpus_per_replica=0.5))
    assert fixed["num_replicas"] == 3 and "autoscaling_config" not in fixed
    assert fixed["ray_actor_options"] == {"num_cpus": 1.0, "num_gpus": 0.5}
    assert fixed["max_ongoing_requests"] == 2 + 3 + HEADROOM  # the replica's pool decides, not Serve
    assert fixed["backpressure_config"]["status_code"] == 503 and fixed["backpressure_config"]["retry_after_s"] >= 1
    auto = deployment_options(settings, ServeScale(autoscale=parse_autoscale("1-4")))
    assert "num_replicas" not in auto
    assert auto["autoscaling_config"]["min_replicas"] == 1 and auto["autoscaling_config"]["max_replicas"] == 4
    assert auto["autoscaling_config"]["target_ongoing_requests"] == 2
    assert parse_autoscale(" 0 - 2 ") == (0, 2)
    with pytest.raises(OptionError):
        parse_autoscale("0-0")
