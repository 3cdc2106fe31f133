"""Fetching a report's link into a folder the tap owns (docs/production.md, "Temporary files and disk"):
without credentials, since links point at storage, not at the API; through the environment's proxies
and CA bundle, as API calls go; stoppable at once, even mid-body; and a body that is not a report is a
failed download, never a file to parse.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import tempfile
import threading
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3

from tap_retail_reports.core.environment import NetworkSettings, certificate_problems
from tap_retail_reports.core.file_formats import not_a_report
from tap_retail_reports.core.http import retry_after_seconds
from tap_retail_reports.core.redact import redact

CHUNK = 1 << 20
DOWNLOADS_FOLDER = "tap-retail-reports-downloads"
REFUSED = (401, 403, 404, 410)  # storage's ways of saying "not with this link"


class LinkExpired(Exception):
    """Storage refused the link (401/403/404/410, or a body saying it expired): a fresh link is needed."""


class DownloadFailed(Exception):
    """The file could not be fetched whole, or what came was not a report."""


class JobCancelled(Exception):
    """The run is stopping (a signal, or another failure ended it): the job is left as it is."""


def safe_link(url: str) -> str:
    """A link fit for a log line: host and path, never the query (signatures, keys)."""
    parts = urlsplit(url)
    return redact(f"{parts.scheme}://{parts.netloc}{parts.path}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def run_folder(root: Path | None = None) -> Path:
    """A new folder for this process's downloads, removed at exit; dead processes' folders are removed first."""
    root = root or Path(tempfile.gettempdir()) / DOWNLOADS_FOLDER
    root.mkdir(mode=0o700, exist_ok=True)
    for folder in root.iterdir():
        pid = folder.name.split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)  # left by a run that was killed
    folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root))
    atexit.register(shutil.rmtree, folder, True)  # any exit but SIGKILL; the next run covers that one
    return folder


def _shut(response: requests.Response) -> None:
    """Wake a read blocked on this response's socket (close() alone would not)."""
    connection = getattr(response.raw, "connection", None) or getattr(response.raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class Downloader:
    """Fetches links into files of this run's download folder, with sessions of its own: the API's
    Authorization and vendor headers must never travel to storage."""

    def __init__(self, user_agent: str, timeout: tuple[float, float] = (30, 300), directory: str | None = None) -> None:
        self.user_agent = user_agent
        self.timeout = timeout
        self.directory = Path(directory) if directory else run_folder()
        self._local = threading.local()  # a requests session per thread
        self._active: set[requests.Response] = set()
        self._watched: set[int] = set()
        self._lock = threading.Lock()
        self.network = NetworkSettings()

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.clear()
            session.headers["User-Agent"] = self.user_agent
            session.trust_env = False  # no .netrc credentials; proxies and CA bundle come from self.network
            self._local.session = session
        return session

    def _watch(self, stop: threading.Event) -> None:
        """One watcher per stop event: when it is set, every download in progress is cut off."""
        with self._lock:
            if id(stop) in self._watched:
                return
            self._watched.add(id(stop))

        def cut_off() -> None:
            stop.wait()
            with self._lock:
                for response in list(self._active):
                    _shut(response)

        threading.Thread(target=cut_off, name="download-stop", daemon=True).start()

    def fetch(self, url: str, *, formats: t.Collection[str] | None = None, stop: threading.Event | None = None) -> Path:
        """The link's body in a new file (the caller deletes it); `formats`: what the vendor sends (sniffed)."""
        if stop is not None:
            self._watch(stop)
            if stop.is_set():
                raise JobCancelled("the run is stopping")
        try:
            with certificate_problems(url):
                response = self.session.get(url, stream=True, timeout=self.timeout, allow_redirects=True,
                                            **self.network(url))
        except requests.RequestException as exc:
            raise DownloadFailed(f"{safe_link(url)}: {type(exc).__name__}") from None
        with response:
            if response.status_code in REFUSED:
                raise LinkExpired(f"{safe_link(url)} -> HTTP {response.status_code}")
            if response.status_code != 200:
                wait = retry_after_seconds(response)
                raise DownloadFailed(f"{safe_link(url)} -> HTTP {response.status_code}"
                                     + (f" (retry after {wait:.0f}s)" if wait else ""))
            path = self._write(url, response, stop)
        problem = not_a_report(path, formats)
        if problem is not None:
            path.unlink(missing_ok=True)
            if problem.expired:
                raise LinkExpired(f"{safe_link(url)} answered {problem}")
            raise DownloadFailed(f"{safe_link(url)} answered {problem}, not a report")
        return path

    def _write(self, url: str, response: requests.Response, stop: threading.Event | None) -> Path:
        expected = response.headers.get("Content-Length")
        handle = tempfile.NamedTemporaryFile(prefix="report-", suffix=".download", dir=self.directory, delete=False)  # noqa: SIM115  # closed by the `with handle:` below; the path outlives it
        path = Path(handle.name)
        written = 0
        with self._lock:
            self._active.add(response)
        if stop is not None and stop.is_set():
            _shut(response)  # the watcher may have run just before this download registered
        try:
            with handle:
                # Raw bytes as stored: a gzip'd body stays gzip'd and is read as such.
                for chunk in response.raw.stream(CHUNK, decode_content=False):
                    if stop is not None and stop.is_set():
                        break
                    handle.write(chunk)
                    written += len(chunk)
        except (requests.RequestException, OSError, urllib3.exceptions.HTTPError) as exc:  # ProtocolError et al.
            path.unlink(missing_ok=True)
            if stop is not None and stop.is_set():
                raise JobCancelled("the run is stopping") from None
            raise DownloadFailed(f"{safe_link(url)}: cut off after {written} bytes ({type(exc).__name__})") from None
        finally:
            with self._lock:
                self._active.discard(response)
        if stop is not None and stop.is_set():
            path.unlink(missing_ok=True)
            raise JobCancelled("the run is stopping")
        if expected is not None and expected.isdigit() and int(expected) != written:
            path.unlink(missing_ok=True)
            raise DownloadFailed(f"{safe_link(url)}: got {written} of {expected} bytes")
        return path
