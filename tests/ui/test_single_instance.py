"""One instance per data dir, in process: the lock, the socket, the message.

(Two real `troupe` processes are in tests/e2e/test_single_instance.py.)
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDir
from PySide6.QtNetwork import QLocalSocket
from PySide6.QtWidgets import QApplication, QWidget

from ui.single_instance import (
    ACK,
    ACTIVATE,
    LOCK_FILE,
    FirstInstance,
    bring_to_front,
    claim,
    server_name,
)


@pytest.fixture
def first(qapp: QApplication, troupe_home: Path) -> Iterator[FirstInstance]:
    instance = claim(troupe_home)
    assert instance is not None
    yield instance
    instance.release()


def pump(qapp: QApplication, done: Callable[[], object], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "timed out"
        qapp.processEvents()
        time.sleep(0.005)


def socket_file(home: Path) -> Path:
    return Path(QDir.tempPath()) / server_name(home)


def test_a_second_claim_on_the_same_data_dir_is_refused_until_released(first, troupe_home, tmp_path):
    assert claim(troupe_home) is None
    other = tmp_path / "other-home"
    other.mkdir()
    elsewhere = claim(other)  # another data dir is another instance
    assert elsewhere is not None
    elsewhere.release()

    first.release()
    again = claim(troupe_home)
    assert again is not None
    again.release()


def test_a_lock_left_by_a_dead_process_is_taken_over(qapp, troupe_home):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    (troupe_home / LOCK_FILE).write_text(f"{pid}\npython3\n{socket.gethostname()}\n")

    instance = claim(troupe_home)

    assert instance is not None
    instance.release()


def test_listening_replaces_a_stale_socket_file(first, qapp, troupe_home):
    path = socket_file(troupe_home)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # what a killed instance leaves behind: a file nobody listens on
    stale.close()
    assert path.exists()

    assert first.listen()

    client = QLocalSocket()
    client.connectToServer(first.name)
    pump(qapp, lambda: client.state() == QLocalSocket.LocalSocketState.ConnectedState)
    client.abort()


def test_the_activate_message_is_answered_and_signalled(first, qapp):
    asked: list[bool] = []
    first.activateRequested.connect(lambda: asked.append(True))
    assert first.listen()

    client = QLocalSocket()
    client.connectToServer(first.name)
    client.write(ACTIVATE)
    pump(qapp, client.canReadLine)

    assert bytes(client.readLine().data()) == ACK
    assert asked == [True]


def test_anything_else_is_ignored(first, qapp):
    asked: list[bool] = []
    first.activateRequested.connect(lambda: asked.append(True))
    assert first.listen()

    client = QLocalSocket()
    client.connectToServer(first.name)
    client.write(b"open /etc/passwd\n")
    pump(qapp, lambda: client.state() == QLocalSocket.LocalSocketState.UnconnectedState)

    assert asked == []
    assert client.readAll().data() == b""


def test_release_removes_the_socket(first, troupe_home):
    assert first.listen()
    assert socket_file(troupe_home).exists()
    first.release()
    assert not socket_file(troupe_home).exists()
    assert not (troupe_home / LOCK_FILE).exists()


def test_bring_to_front_restores_a_minimised_window(qapp):
    window = QWidget()
    window.showMinimized()
    qapp.processEvents()
    assert window.isMinimized()

    bring_to_front(window)
    qapp.processEvents()

    assert not window.isMinimized() and window.isVisible()
    window.close()
