"""The swap options as widgets, one per field of the options schema (app/core/options.py).

Each field's declaration decides its widget: a choice is a combo box, a switch or a yes/no value a check box,
a number a slider (shown as a percentage, or with its decimals) or, for sizes that must be a multiple of
something, a spin box that only steps in those multiples. The widgets' ranges are the declared ranges, so the
GUI cannot produce a value the engine would refuse."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QSlider, QSpinBox, QWidget

from app.core.options import Form, FormField


class ValueSlider(QWidget):
    """A slider with its value written beside it. `value` is in display units (a percentage: 0-100)."""

    def __init__(self, low: int, high: int, value: int, fmt: str, scale: float) -> None:
        super().__init__()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(low, high)
        self.slider.setValue(value)
        self.slider.setPageStep(max(1, (high - low) // 10))
        self._fmt, self._scale = fmt, scale
        self.label = QLabel()
        self.label.setObjectName("sliderValue")
        self.label.setMinimumWidth(40)
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.slider.valueChanged.connect(self._show)
        self._show(value)

    def _show(self, v: int) -> None:
        self.label.setText(self._fmt.format(v * self._scale))

    @property
    def value(self) -> float:
        return self.slider.value() * self._scale

    def set_value(self, value: float) -> None:
        self.slider.setValue(round(value / self._scale))


class _Control:
    """One field's widget and the conversion between the widget and the field's value."""

    def __init__(self, field: FormField) -> None:
        self.field = field
        spec = field.spec
        self.widget: QWidget
        if field.kind == "choice":
            combo = QComboBox()
            for value, label in spec.choices:
                combo.addItem(label, value)
            self.widget = combo
        elif field.kind == "bool":
            self.widget = QCheckBox("On" if field.is_switch else spec.label)
        elif spec.multiple_of is not None:
            spin = QSpinBox()
            spin.setRange(int(spec.low or 0), int(spec.high or 1 << 16))
            spin.setSingleStep(spec.multiple_of)
            spin.setSuffix(" px")
            self.widget = spin
        else:
            assert spec.low is not None and spec.high is not None, f"{field.key} needs a range for a slider"
            scale = 0.01 if spec.percent else 10.0 ** -spec.decimals
            shown = 100.0 if spec.percent else 1.0
            fmt = "{:.0f} %" if spec.percent else f"{{:.{spec.decimals}f}}"
            self._shown = shown
            self.widget = ValueSlider(round(spec.low / scale), round(spec.high / scale), 0, fmt, scale * shown)
        self.widget.setToolTip(spec.help)
        self.set(field.default)

    def get(self) -> Any:
        w, f = self.widget, self.field
        if isinstance(w, QComboBox):
            return str(w.currentData())
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QSpinBox):
            step = f.spec.multiple_of or 1
            return max(int(f.spec.low or 0), round(w.value() / step) * step)  # typed-in values snap to a step
        assert isinstance(w, ValueSlider)
        return round(w.value / self._shown, 6)

    def set(self, value: Any) -> None:
        w = self.widget
        if isinstance(w, QComboBox):
            w.setCurrentIndex(max(0, w.findData(value)))
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QSpinBox):
            w.setValue(int(value))
        else:
            assert isinstance(w, ValueSlider)
            w.set_value(float(value) * self._shown)

    def connect(self, slot: Any) -> None:
        w = self.widget
        if isinstance(w, QComboBox):
            w.currentIndexChanged.connect(slot)
        elif isinstance(w, QCheckBox):
            w.toggled.connect(slot)
        elif isinstance(w, QSpinBox):
            w.valueChanged.connect(slot)
        else:
            assert isinstance(w, ValueSlider)
            w.slider.valueChanged.connect(slot)


class OptionControls(QObject):
    """Widgets for the fields of a form; `changed` carries the new options after every user change."""

    changed = Signal(object)  # the form's options (SwapOptions, EngineOptions)

    def __init__(self, form: Form[Any]) -> None:
        super().__init__()
        self.form = form
        self._controls = {f.key: _Control(f) for f in form}
        self._quiet = False
        for control in self._controls.values():
            control.connect(self._emit)
        switch = next((f for f in form if f.is_switch), None)
        if switch is not None:  # the nested options are editable only while their switch is on
            box = self._controls[switch.key].widget
            assert isinstance(box, QCheckBox)
            box.toggled.connect(self._enable_nested)
            self._enable_nested(box.isChecked())

    def widget(self, key: str) -> QWidget:
        return self._controls[key].widget

    def check_box(self, key: str) -> QCheckBox:
        box = self._controls[key].widget
        assert isinstance(box, QCheckBox), key
        return box

    def combo_box(self, key: str) -> QComboBox:
        combo = self._controls[key].widget
        assert isinstance(combo, QComboBox), key
        return combo

    def slider(self, key: str) -> ValueSlider:
        slider = self._controls[key].widget
        assert isinstance(slider, ValueSlider), key
        return slider

    def add_rows(self, layout: QFormLayout, group: str) -> None:
        """The fields of `group`, one labelled row each (a check box carries its own label)."""
        for f in self.form:
            if f.spec.group != group:
                continue
            label = f.spec.label if (f.kind != "bool" or f.is_switch) else ""
            layout.addRow(label, self._controls[f.key].widget)

    def values(self) -> dict[str, Any]:
        return {key: control.get() for key, control in self._controls.items()}

    def options(self) -> Any:
        return self.form.build(self.values())

    def set_values(self, values: dict[str, Any]) -> None:
        """Show `values` (from the settings); emits `changed` once."""
        self._quiet = True
        try:
            for key, value in values.items():
                if key in self._controls:
                    self._controls[key].set(value)
        finally:
            self._quiet = False
        self._emit()

    def _enable_nested(self, on: bool) -> None:
        for f in self.form:
            if f.path[0] == "restore" and not f.is_switch:
                self._controls[f.key].widget.setEnabled(on)

    def _emit(self, *_: object) -> None:
        if not self._quiet:
            self.changed.emit(self.options())
