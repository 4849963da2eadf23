"""Guards against Qt binding bugs that would crash a long-running window."""

import sys

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPen


def test_void_painter_calls_keep_none_alive(qapp):
    # PySide6 6.12.0 dropped one reference to None per call: the timeline,
    # repainting 4 times a second, aborted the process within minutes.
    image = QImage(64, 64, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(2000):
        painter.setPen(QPen(QColor("red"), 1))
        painter.drawLine(QPointF(0, 0), QPointF(10, 10))
        painter.fillRect(QRectF(0, 0, 4, 4), QColor("blue"))
    painter.end()
    # With the bug the count falls by one per call (6000 here); unrelated
    # objects being freed meanwhile move it by a few dozen at most.
    assert sys.getrefcount(None) > before - 1000
