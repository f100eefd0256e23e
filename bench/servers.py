"""Real servers on loopback for the tests and benchmarks: supysonic, MPD and a Chroma server.

Nothing here is used by Moodtune itself; it starts the servers Moodtune talks to, each with
its own configuration, database and port in a temporary folder, and stops them.

- supysonic (PyPI, `pip install -e ".[servers]"`): its own CLI (`python -m supysonic.cli`)
  creates the user and the music folder and scans it, reading `supysonic.conf` from its working
  directory; the API is its WSGI app (`supysonic.web.create_application`) under Werkzeug's
  threaded server (Flask's own dependency), bound to 127.0.0.1 port 0 so the OS picks a free
  port and no other process can take it between choosing and binding. `supysonic-server`
  needs gunicorn, gevent or waitress and a port chosen beforehand, so it is not used.
- MPD (Debian's `mpd`): a config file with a loopback port chosen just before it starts (MPD
  cannot report a port it picked itself), a null audio output, its own music directory.
- Chroma (`chroma run`, chromadb's CLI in the venv): its own data folder, a loopback port chosen
  just before it starts, telemetry off; the catalog's server mode (MOODTUNE_CHROMA_URL).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SUPYSONIC_CONF = """\
[base]
database_uri = sqlite:///{db}
scanner_extensions = flac mp3 ogg wav
[webapp]
cache_dir = {cache}
mount_webui = no
log_level = WARNING
[daemon]
socket = {sock}
run_watcher = no
"""

# Runs in the server process: supysonic's WSGI app on a port the OS picks; prints the port.
_SERVE = """
import sys
from supysonic.config import IniConfig
from supysonic.web import create_application
from werkzeug.serving import make_server

app = create_application(IniConfig([sys.argv[1]]))
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.port, flush=True)
server.serve_forever()
"""


@dataclass
class Supysonic:
    """A running supysonic: `url` (http://127.0.0.1:PORT), one user, one music folder."""

    url: str
    user: str
    password: str
    workdir: Path
    music: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def address(self) -> str:
        """The `subsonic://USER@HOST:PORT` form `moodtune ingest` takes."""
        return f"subsonic://{self.user}@127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        return supysonic_cli(self.workdir, *args)

    def scan(self) -> str:
        """Rescan the music folder (after files were added or removed)."""
        return self.cli("folder", "scan", "--foreground", "--force")

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> Supysonic:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def supysonic_cli(workdir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "supysonic.cli", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HOME": str(workdir)},  # no ~/.supysonic of the machine's user
    )
    if done.returncode != 0:
        raise RuntimeError(f"supysonic-cli {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def start_supysonic(music: Path, workdir: Path, *, user: str = "ana", password: str = "s3cret-pw") -> Supysonic:
    """Create the user and folder, scan `music`, serve the API on loopback; ready when this returns."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "supysonic.conf").write_text(
        SUPYSONIC_CONF.format(db=workdir / "supysonic.db", cache=workdir / "cache", sock=workdir / "daemon.sock")
    )
    supysonic_cli(workdir, "user", "add", user, "-p", password)
    supysonic_cli(workdir, "folder", "add", "music", str(Path(music).resolve()))
    supysonic_cli(workdir, "folder", "scan", "--foreground")
    log = open(workdir / "server.log", "w")  # noqa: SIM115 - the process holds it until stopped
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(workdir / "supysonic.conf")],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "HOME": str(workdir)},
    )
    line = process.stdout.readline() if process.stdout else ""
    if not line.strip().isdigit():
        _stop(process)
        raise RuntimeError(f"supysonic did not start: {(workdir / 'server.log').read_text()[-2000:]}")
    return Supysonic(f"http://127.0.0.1:{int(line)}", user, password, workdir, Path(music), process)


# -- MPD ---------------------------------------------------------------------------------

MPD_CONF = """\
music_directory    "{music}"
playlist_directory "{playlists}"
db_file            "{db}"
state_file         "{state}"
pid_file           "{pid}"
log_file           "{log}"
bind_to_address    "127.0.0.1"
port               "{port}"
auto_update        "no"
audio_output {{
    type "null"
    name "silence"
    mixer_type "none"
}}
"""


@dataclass
class MPD:
    host: str
    port: int
    music: Path
    workdir: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> MPD:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def mpd_binary() -> str | None:
    return shutil.which("mpd") or ("/usr/bin/mpd" if Path("/usr/bin/mpd").exists() else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_mpd(music: Path, workdir: Path, *, attempts: int = 3) -> MPD:
    """Debian's mpd in the foreground with its own config on a loopback port; ready when this returns."""
    binary = mpd_binary()
    if binary is None:
        raise RuntimeError("mpd is not installed (apt-get install mpd)")
    workdir = Path(workdir)
    (workdir / "playlists").mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _ in range(attempts):  # the port is chosen before MPD binds it: another process may take it first
        port = free_port()
        conf = workdir / "mpd.conf"
        conf.write_text(
            MPD_CONF.format(
                music=Path(music).resolve(),
                playlists=workdir / "playlists",
                db=workdir / "mpd.db",
                state=workdir / "state",
                pid=workdir / "mpd.pid",
                log=workdir / "mpd.log",
                port=port,
            )
        )
        process = subprocess.Popen(
            [binary, "--no-daemon", "--stderr", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "stderr.log", "w"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"OK MPD"):
                        return MPD("127.0.0.1", port, Path(music), workdir, process)
            except OSError:
                time.sleep(0.1)
        _stop(process)
        last_error = (workdir / "stderr.log").read_text()[-2000:]
    raise RuntimeError(f"mpd did not start: {last_error}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if process.stdout:
        process.stdout.close()


@dataclass
class ChromaServer:
    """A running `chroma run`: `url` (http://127.0.0.1:PORT) for MOODTUNE_CHROMA_URL, its data folder."""

    url: str
    path: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> ChromaServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def chroma_binary() -> str:
    beside = Path(sys.executable).with_name("chroma")
    return str(beside) if beside.exists() else (shutil.which("chroma") or "chroma")


def start_chroma(path: Path, *, attempts: int = 3, timeout: float = 60.0) -> ChromaServer:
    """`chroma run --path PATH` on a loopback port; ready (heartbeat answers) when this returns."""
    import httpx

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _ in range(attempts):  # the port is chosen before Chroma binds it: another process may take it first
        port = free_port()
        log = path.parent / f"{path.name}.chroma.log"
        process = subprocess.Popen(
            [chroma_binary(), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=open(log, "w"),  # noqa: SIM115
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200:
                    return ChromaServer(url, path, process)
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        _stop(process)
        last_error = log.read_text()[-2000:] if log.exists() else ""
    raise RuntimeError(f"chroma run did not start: {last_error}")
