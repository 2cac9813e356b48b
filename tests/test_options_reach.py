"""Every field of the options schema reaches every front end: a command-line flag, an API form field (with its
range in the OpenAPI document), a GUI control and a settings key; and a value set there arrives in the options
the engine gets. Out-of-range values are refused alike (exit 2, HTTP 422). The live fields (how live renders)
reach the `live` command and the GUI, and nothing else: photos, videos and the API have no use for them."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

from app.api.forms import options_dependency
from app.cli import build_parser, main
from app.core.options import (
    ENGINE_FORM,
    LIVE_FORM,
    LIVE_GROUP,
    RESTORE_FORM,
    SWAP_FORM,
    Form,
    FormField,
    SwapOptions,
)
from app.errors import OptionError
from tests.api.conftest import make_client, png
from tests.standins import photos


@pytest.fixture(scope="module")
def api(standin_models_dir: Path) -> Iterator[Any]:
    with make_client(standin_models_dir) as client:
        yield client


def other_value(f: FormField) -> Any:
    """A valid value that is not the default."""
    spec = f.spec
    if f.kind == "choice":
        return next(v for v, _ in spec.choices if v != f.default)
    if f.kind == "bool":
        return not f.default
    assert spec.low is not None and spec.high is not None
    if spec.multiple_of is not None:
        return f.default + spec.multiple_of
    step = 0.01 if spec.percent else 10.0 ** -spec.decimals
    value = f.default + 5 * step if f.default + 5 * step <= spec.high else f.default - 5 * step
    return round(value, 6)


def out_of_range(f: FormField) -> Any:
    assert f.spec.high is not None
    return f.spec.high + (f.spec.multiple_of or 1)


def at_path(options: SwapOptions, f: FormField) -> Any:
    if f.is_switch:
        return options.restore is not None
    value: Any = options
    for name in f.path:
        value = getattr(value, name)
    return value


def needs_switch(form: Form, f: FormField) -> dict[str, Any]:
    """Values for a nested (restore) field only show in the options while their switch is on."""
    return {"restore": True} if f.path[0] == "restore" and "restore" in form and not f.is_switch else {}


FORMS = [("swap", SWAP_FORM), ("restore", RESTORE_FORM), ("live", LIVE_FORM)]
ALL_FIELDS = [(name, form, f) for name, form in FORMS for f in form]
IDS = [f"{name}:{f.key}" for name, _, f in ALL_FIELDS]
NUMBERS = [(name, form, f) for name, form, f in ALL_FIELDS if f.kind in ("int", "float")]
API_FIELDS = [(name, form, f) for name, form, f in ALL_FIELDS if name != "live"]  # the API has no live form
API_NUMBERS = [(name, form, f) for name, form, f in API_FIELDS if f.kind in ("int", "float")]
LIVE_ONLY = [f for f in LIVE_FORM if f.spec.group == LIVE_GROUP]
POSITIONAL = {"swap": ["src.png", "dst.png", "-o", "out.png"], "restore": ["in.png", "-o", "out.png"],
              "live": ["--source", "src.png"]}


def cli_args(command: str, f: FormField, value: Any) -> list[str]:
    if f.kind == "bool":
        return [f.cli_flag] if value != f.default else []
    return [f.cli_flag, str(value)]


def parse(command: str, extra: list[str]) -> argparse.Namespace:
    return build_parser().parse_args([command, *POSITIONAL[command], *extra])


@pytest.mark.parametrize(("command", "form", "f"), ALL_FIELDS, ids=IDS)
def test_cli_flag(command: str, form: Form, f: FormField) -> None:
    value = other_value(f)
    extra = cli_args(command, f, value)
    if needs_switch(form, f):
        extra.append("--restore")
    options = form.build(vars(parse(command, extra)))
    assert at_path(options, f) == value
    switch = ["--restore"] if needs_switch(form, f) else []
    assert at_path(form.build(vars(parse(command, switch))), f) == f.default


@pytest.mark.parametrize(("command", "form", "f"), NUMBERS, ids=[f"{c}:{f.key}" for c, _, f in NUMBERS])
def test_cli_refuses_out_of_range(command: str, form: Form, f: FormField, capsys: pytest.CaptureFixture[str]
                                  ) -> None:
    code = main([command, *POSITIONAL[command], f.cli_flag, str(out_of_range(f))])
    assert code == 2
    assert (f.spec.noun or f.key.replace("_", " ")) in capsys.readouterr().err


def openapi_fields(api: Any, path: str) -> dict[str, dict[str, Any]]:
    spec = api.get("/openapi.json").json()
    ref = spec["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    props: dict[str, dict[str, Any]] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    return props


@pytest.mark.parametrize(("name", "form", "f"), API_FIELDS, ids=[f"{n}:{f.key}" for n, _, f in API_FIELDS])
def test_api_form_field(api: Any, name: str, form: Form, f: FormField) -> None:
    paths = ["/api/face-swap", "/api/face-swap-video-frame"] if name == "swap" else ["/api/face-restore"]
    for path in paths:
        prop = openapi_fields(api, path)[f.api_name]
        assert prop.get("default") == f.default and prop.get("description") == f.spec.help
        if f.kind in ("int", "float"):
            assert (prop.get("minimum"), prop.get("maximum")) == (f.spec.low, f.spec.high)
    value = other_value(f)
    values = {g.api_name: g.default for g in form} | {f.api_name: value}
    values.update({form[k].api_name: v for k, v in needs_switch(form, f).items()})
    assert at_path(options_dependency(form)(**values), f) == value


@pytest.mark.parametrize(("name", "form", "f"), API_NUMBERS, ids=[f"{c}:{f.key}" for c, _, f in API_NUMBERS])
def test_api_refuses_out_of_range(api: Any, name: str, form: Form, f: FormField) -> None:
    t1 = png(photos.t1().image)
    if name == "swap":
        files = {"source_face": ("s.png", t1, "image/png"), "frame": ("f.png", t1, "image/png")}
        path = "/api/face-swap-video-frame"
    else:
        files = {"image": ("i.png", t1, "image/png")}
        path = "/api/face-restore"
    response = api.post(path, files=files, data={f.api_name: str(out_of_range(f))})
    assert response.status_code == 422 and response.json()["error"] == "invalid_parameter", response.text
    assert f.api_name in response.json()["detail"]


@pytest.mark.parametrize("f", list(LIVE_FORM), ids=[f.key for f in LIVE_FORM])
def test_gui_control_and_settings_key(qtbot: Any, tmp_path: Path, f: FormField) -> None:
    from app.gui.controls import ControlsPanel
    from app.gui.settings import SettingsStore

    panel = ControlsPanel()
    qtbot.addWidget(panel)
    controls = panel.option_controls
    assert controls.widget(f.key).toolTip() == f.spec.help
    seen: list[SwapOptions] = []
    panel.options_changed.connect(seen.append)
    value = other_value(f)
    values = controls.values() | needs_switch(LIVE_FORM, f) | {f.key: value}
    panel.show_options(values)
    assert at_path(panel.options(), f) == value and at_path(seen[-1], f) == value

    store = SettingsStore(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    store.save_option_values(panel.option_values())
    store.qsettings.sync()
    again = SettingsStore(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert again.qsettings.contains(f.settings_key)
    assert again.option_values()[f.key] == value and at_path(again.options(), f) == value


def test_bad_stored_values_fall_back_to_defaults(tmp_path: Path) -> None:
    from app.gui.settings import SettingsStore

    settings = QSettings(str(tmp_path / "bad.ini"), QSettings.Format.IniFormat)
    settings.setValue("options/blend", "7")
    settings.setValue("options/faces", "leftmost")
    settings.setValue("options/det_size", "650")
    store = SettingsStore(settings)
    assert store.options() == SwapOptions()


def test_forms_cover_every_declared_field() -> None:
    declared = {f.key for f in SWAP_FORM}
    assert declared == {"faces", "blend", "color_correction", "face_scale", "others", "mask", "mask_padding",
                        "mask_feather", "mouth_mask", "mouth_mask_size", "mouth_mask_feather", "restore",
                        "restore_strength", "restore_denoise", "restore_sharpen", "restore_enhance_details",
                        "det_size", "det_threshold"}
    assert {f.key for f in RESTORE_FORM} == {"faces", "det_size", "det_threshold", "strength", "denoise",
                                            "sharpen", "enhance_details"}
    assert {f.key for f in LIVE_FORM} == declared | {"render", "until_swapped"}
    with pytest.raises(OptionError, match="detection size must be a multiple of 32"):
        SwapOptions(det_size=650)


@pytest.mark.parametrize("f", LIVE_ONLY, ids=[f.key for f in LIVE_ONLY])
def test_live_fields_reach_live_and_the_gui_only(api: Any, f: FormField) -> None:
    """`render` and `until_swapped` mean nothing to a photo, a video or the API: their forms leave them out, and
    the `live` command takes them (the GUI's control is tested above with every live field)."""
    assert f.key not in SWAP_FORM and f.key not in RESTORE_FORM
    for path in ("/api/face-swap", "/api/face-swap-video-frame"):
        assert f.api_name not in openapi_fields(api, path)
    for command in ("swap", "restore"):
        with pytest.raises(SystemExit):
            parse(command, [f.cli_flag, str(other_value(f))])
    assert at_path(LIVE_FORM.build(vars(parse("live", [f.cli_flag, str(other_value(f))]))), f) == other_value(f)


@pytest.mark.parametrize("f", list(ENGINE_FORM), ids=[f.key for f in ENGINE_FORM])
def test_engine_option_reaches_the_cli_the_server_and_the_gui(qtbot: Any, tmp_path: Path, f: FormField) -> None:
    """How the models run: a flag of every command that loads models, a server setting, a GUI control and its
    settings key."""
    from app.commands.common import engine_options_from_args
    from app.commands.serve_cmd import settings_from_args
    from app.gui.controls import ControlsPanel
    from app.gui.settings import SettingsStore

    value = other_value(f)
    for command in ("swap", "restore"):
        assert getattr(engine_options_from_args(parse(command, [f.cli_flag, value])), f.key) == value
    serve = build_parser().parse_args(["serve", f.cli_flag, value])
    assert getattr(settings_from_args(serve).engine, f.key) == value
    panel = ControlsPanel()
    qtbot.addWidget(panel)
    seen: list[Any] = []
    panel.engine_options_changed.connect(seen.append)
    panel.engine_controls.set_values({f.key: value})
    assert getattr(panel.engine_options(), f.key) == value and getattr(seen[-1], f.key) == value
    store = SettingsStore(QSettings(str(tmp_path / "e.ini"), QSettings.Format.IniFormat))
    store.save_option_values(panel.engine_controls.values(), ENGINE_FORM)
    assert getattr(store.engine_options(), f.key) == value
    with pytest.raises(SystemExit) as exit_:  # argparse refuses an unknown choice itself: exit 2
        main(["swap", "a.png", "b.png", "-o", "o.png", f.cli_flag, "bogus"])
    assert exit_.value.code == 2
