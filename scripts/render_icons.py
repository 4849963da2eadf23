"""Render resources/icons/troupe.svg to the PNG, ICO and ICNS copies the app ships.

    .venv/bin/python -m scripts.render_icons

Writes resources/icons/hicolor/<n>x<n>/apps/troupe.png for the freedesktop icon
theme sizes (the layout install.sh copies into ~/.local/share/icons/hicolor),
troupe.ico (Windows) and troupe.icns (macOS) next to the SVG. Uses Qt's own SVG
renderer and image writers, so it needs nothing beyond PySide6. The outputs are
committed: run this again after changing the SVG.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QImageWriter, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ICONS_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"
SOURCE = ICONS_DIR / "troupe.svg"
PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
"""The hicolor theme's usual fixed sizes; the SVG also goes to hicolor/scalable."""
ICO_SIZE = 256  # the largest size Windows uses; Qt writes one image per .ico
ICNS_SIZE = 512


def render(renderer: QSvgRenderer, size: int) -> QImage:
    """The SVG drawn on a transparent square of `size` pixels."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def png_path(size: int) -> Path:
    return ICONS_DIR / "hicolor" / f"{size}x{size}" / "apps" / "troupe.png"


def save(image: QImage, path: Path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = QImageWriter(str(path), fmt.encode())
    if not writer.write(image):
        raise SystemExit(f"could not write {path}: {writer.errorString()}")


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"{SOURCE} is not an SVG Qt can render")
    for size in PNG_SIZES:
        save(render(renderer, size), png_path(size), "png")
    save(render(renderer, ICO_SIZE), ICONS_DIR / "troupe.ico", "ico")
    save(render(renderer, ICNS_SIZE), ICONS_DIR / "troupe.icns", "icns")
    del app
    print(f"rendered {len(PNG_SIZES)} PNG sizes, troupe.ico and troupe.icns in {ICONS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
