"""One Troupe window per data dir: a second start hands over to the first.

The first start holds a lock file in the data dir for as long as it runs and
listens on a local socket named after the user and the data dir. A later start
finds the lock taken, connects, asks the first window to come forward and
exits. The lock, not the socket, decides who is first: so only the lock holder
ever removes a socket file (one left by a crashed instance), and of two starts
at the same moment exactly one listens while the other waits for it to answer.

`troupe --self-test` and the CLI never call this: they may run beside the window.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import time
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Qt, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QWidget

log = logging.getLogger("troupe.instance")

LOCK_FILE = "troupe.lock"
ACTIVATE = b"activate\n"
ACK = b"ok\n"
REPLY_TIMEOUT = 10.0
"""Seconds a second start waits for the first one's answer once connected."""
ACTIVATED_LOG = "brought to the front by a second start"


def server_name(data_dir: Path) -> str:
    """The local socket's name: per user and per data dir (short enough for any OS)."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return f"troupe-{_user()}-{digest}"


def _user() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "user"
    return "".join(ch for ch in name if ch.isalnum())[:32] or "user"


class FirstInstance(QObject):
    """This process owns the data dir; `listen()` once the QApplication exists."""

    activateRequested = Signal()

    def __init__(self, data_dir: Path, lock: QLockFile | None) -> None:
        super().__init__()
        self.name = server_name(data_dir)
        self._lock = lock  # None: the lock could not be taken (read-only dir); no server then
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self._on_new_connection)

    def listen(self) -> bool:
        if self._lock is None:
            return False
        # Only the lock holder gets here, so a socket file left behind is stale.
        QLocalServer.removeServer(self.name)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not self._server.listen(self.name):
            log.warning("cannot listen on %s: %s", self.name, self._server.errorString())
            return False
        log.info("single instance: listening on %s", self._server.fullServerName())
        return True

    def release(self) -> None:
        """Stop listening and let the lock go (at quit)."""
        self._server.close()
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    def _on_new_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._on_ready_read(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._on_ready_read(socket)

    def _on_ready_read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        if bytes(socket.readLine().data()) == ACTIVATE:
            socket.write(ACK)
            socket.flush()
            log.info(ACTIVATED_LOG)
            self.activateRequested.emit()
        socket.disconnectFromServer()


def claim(data_dir: Path) -> FirstInstance | None:
    """This process's claim to be the data dir's one instance, or None when a
    running instance holds it (then `activate_running` asks it to come forward)."""
    lock = QLockFile(str(data_dir / LOCK_FILE))
    lock.setStaleLockTime(0)  # held for the app's life: stale only when its process is gone
    if lock.tryLock(0):
        return FirstInstance(data_dir, lock)
    if lock.error() == QLockFile.LockError.LockFailedError:
        return None
    log.warning("cannot lock %s (%s); not checking for another instance",
                data_dir / LOCK_FILE, lock.error().name)
    return FirstInstance(data_dir, None)


def activate_running(data_dir: Path, timeout: float = 5.0) -> bool:
    """Ask the running instance to bring its window forward; True once it said so.

    Retries until `timeout`: the other instance may have just taken the lock
    and not be listening yet (two starts at once).
    """
    name = server_name(data_dir)
    deadline = time.monotonic() + timeout
    while True:
        if _send_activate(name):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _send_activate(name: str) -> bool:
    socket = QLocalSocket()
    socket.connectToServer(name)
    try:
        if not socket.waitForConnected(500):
            return False
        socket.write(ACTIVATE)
        if not socket.waitForBytesWritten(1000):
            return False
        # connected: it is alive, though maybe busy for a while (importing litellm)
        deadline = time.monotonic() + REPLY_TIMEOUT
        while not socket.canReadLine():
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0 or not socket.waitForReadyRead(left_ms):
                return False
        return bytes(socket.readLine().data()) == ACK
    finally:
        socket.abort()


def bring_to_front(window: QWidget) -> None:
    """Show, un-minimise, raise and activate `window`."""
    state = window.windowState() & ~Qt.WindowState.WindowMinimized
    window.setWindowState(state | Qt.WindowState.WindowActive)
    window.show()
    window.raise_()
    window.activateWindow()
