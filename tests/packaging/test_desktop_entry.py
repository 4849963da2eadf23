"""The desktop entry and the icons in resources/: valid, complete, and in step with
the SVG they are rendered from (fast; the bundle test installs them for real)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import numpy
import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QImage
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from resources import RESOURCES_DIR
from scripts.render_icons import ICO_SIZE, PNG_SIZES, SOURCE, png_path, render
from ui.app_icon import DESKTOP_FILE_NAME, app_icon

DESKTOP_FILE = RESOURCES_DIR / f"{DESKTOP_FILE_NAME}.desktop"


def _entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(DESKTOP_FILE)
    return parser["Desktop Entry"]


def test_the_desktop_entry_launches_troupe_with_its_icon() -> None:
    entry = _entry()
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"] == "troupe" and entry["TryExec"] == "troupe"  # install.sh makes them absolute
    assert entry["Icon"] == "troupe" and all(png_path(size).name == "troupe.png" for size in PNG_SIZES)
    assert entry["Categories"].endswith(";")
    # X11 matches windows to the entry by WM_CLASS, whose class Qt takes from the
    # application name ui/gui.py sets
    assert entry["StartupWMClass"] == "Troupe"


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_the_desktop_entry_validates() -> None:
    result = subprocess.run(
        ["desktop-file-validate", str(DESKTOP_FILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout


def test_every_icon_size_is_rendered_from_the_current_svg(qapp: QApplication) -> None:
    renderer = QSvgRenderer(str(SOURCE))
    assert renderer.isValid()
    for size in PNG_SIZES:
        committed = QImage(str(png_path(size)))
        assert committed.size() == QSize(size, size), png_path(size)
        fresh = render(renderer, size)
        assert _max_difference(committed, fresh) <= 2, (
            f"{png_path(size)} differs from troupe.svg: run `python -m scripts.render_icons`"
        )
    assert QImage(str(SOURCE.with_suffix(".ico"))).width() == ICO_SIZE
    assert Path(SOURCE.with_suffix(".icns")).stat().st_size > 1000


def _max_difference(a: QImage, b: QImage) -> int:
    """The largest difference of one channel between two same-size images (premultiplied:
    a nearly transparent pixel's colour is noise)."""
    premultiplied = [image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied) for image in (a, b)]
    # (the converted images must outlive the arrays that view their memory)
    pixels = [numpy.frombuffer(image.constBits(), numpy.uint8) for image in premultiplied]
    return int(numpy.abs(pixels[0].astype(int) - pixels[1].astype(int)).max())


def test_the_window_icon_has_every_size(qapp: QApplication) -> None:
    sizes = {s.width() for s in app_icon().availableSizes()}
    assert sizes == set(PNG_SIZES)
