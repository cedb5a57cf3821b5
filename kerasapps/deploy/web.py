"""The web app beside every export, and the server that shows it: `kerasapps export` writes
`web/`, `kerasapps serve` serves it.

    <export>/web/index.html, app.js, prepare.js   the page (no build step) and the image preparation
    <export>/web/app.json                         what the page loads: kind, labels, layout, files
    <export>/web/<variant>.tflite                 each variant with a static batch of 1

The page classifies with MediaPipe Tasks for web (ImageClassifier, TextClassifier), whose
WebAssembly runs the files as phones run them; the GPU (WebGL) delegate takes static shapes
only, so the page loads the batch-1 copies. MediaPipe's JS and WebAssembly come from the
project's pinned npm install (package.json, `npm ci`), served under /mediapipe/; without it,
the page takes the same versions from a pinned CDN URL.
"""

import functools
import http.server
import json
import pathlib
import shutil

from kerasapps import runs
from kerasapps.errors import UserError

WEB_FOLDER = "web"
APP_FILE = "app.json"
PAGE_FILES = ("index.html", "app.js", "prepare.js")
PAGE_SOURCE = pathlib.Path(__file__).resolve().parent / "web"
# The MediaPipe packages the page imports, pinned as package.json pins them (tests check both agree).
MEDIAPIPE = {"image": ("@mediapipe/tasks-vision", "1.1.0"), "text": ("@mediapipe/tasks-text", "1.0.1")}
CDN = "https://cdn.jsdelivr.net/npm"


def write_web_app(folder, *, experiment, kind, labels, files, size=None, layout=None):
    """Write the page and its `app.json` into `folder` (the .tflite `files`, {variant: name}, are there).

    Args:
        experiment: the export's name, shown as the page's title.
        kind: "image" or "text".
        labels: the class names.
        size, layout: an image model's input (height, width) and how images are prepared
            (`data.user_images`: "mnist" or "resize").
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        shutil.copyfile(PAGE_SOURCE / name, folder / name)
    package, version = MEDIAPIPE[kind]
    app = {
        "experiment": experiment, "kind": kind, "labels": list(labels), "files": dict(files),
        "mediapipe": {"package": package, "version": version, "local": f"/mediapipe/{package}", "cdn": f"{CDN}/{package}@{version}"},
    }  # fmt: skip
    if kind == "image":
        app.update(size=list(size), layout=layout)
    (folder / APP_FILE).write_text(json.dumps(app, indent=2) + "\n")


# --- serving ----------------------------------------------------------------------


def find_web_folder(source, *, runs_dir=None, experiments=()):
    """The web folder of `source`: an export folder (holding web/), a web folder itself, or a run
    (a folder or an experiment name) whose newest export holds one.

    Raises:
        UserError: no such folder or run, or no web app there.
    """
    path = pathlib.Path(source)
    if not (path / runs.METRICS_FILE).is_file():
        for folder in (path / WEB_FOLDER, path):
            if (folder / APP_FILE).is_file():
                return folder
        if path.is_dir():
            raise UserError(f"{path} holds no web app ({WEB_FOLDER}/{APP_FILE}): export the run again with `kerasapps export RUN`.")
    run_dir = runs.resolve_run(source, runs_dir, experiments=experiments)
    exports = run_dir / runs.EXPORTS_FILE
    if not exports.is_file():
        raise UserError(f"Run {run_dir} was never exported: `kerasapps export {source}` writes its web app.")
    return find_web_folder(json.loads(exports.read_text())[-1]["out_dir"])


def find_node_modules():
    """The project's npm install (`npm ci` beside package.json), or None: looked for in the working
    folder and beside the package's source (a clone's root)."""
    for root in (pathlib.Path.cwd(), pathlib.Path(__file__).resolve().parents[2]):
        if (root / "node_modules" / "@mediapipe").is_dir():
            return root / "node_modules"
    return None


class _Handler(http.server.SimpleHTTPRequestHandler):
    """The web folder at /, the npm packages under /mediapipe/; quiet but for errors."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".js": "text/javascript", ".wasm": "application/wasm", ".tflite": "application/octet-stream"}  # fmt: skip

    def __init__(self, *args, web, node_modules, **kwargs):
        self.web, self.node_modules = web, node_modules
        super().__init__(*args, directory=str(web), **kwargs)

    def translate_path(self, path):
        if path.startswith("/mediapipe/") and self.node_modules:
            target = (self.node_modules / path.split("?", 1)[0].removeprefix("/mediapipe/")).resolve()
            if target.is_relative_to(self.node_modules.resolve()):  # no way out of node_modules
                return str(target)
        return super().translate_path(path)

    def log_message(self, format, *args):
        if len(args) > 1 and str(args[1]).startswith(("4", "5")):  # a request's status; errors log one argument
            super().log_message(format, *args)


def make_server(source, *, host="127.0.0.1", port=8000, runs_dir=None, experiments=()):
    """An HTTP server for the web app of `source` (`find_web_folder`); returns (server, its URL, notes).

    Raises:
        UserError: no web app there, or the port is in use or not allowed.
    """
    web = find_web_folder(source, runs_dir=runs_dir, experiments=experiments)
    node_modules = find_node_modules()
    handler = functools.partial(_Handler, web=web, node_modules=node_modules)
    try:
        server = http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        if error.errno == 98:  # EADDRINUSE
            raise UserError(f"Port {port} is in use on {host}: pick another with --port N.") from None
        raise UserError(f"Cannot listen on {host}:{port}: {error.strerror}.") from None
    app = json.loads((web / APP_FILE).read_text())
    notes = [
        f"MediaPipe {app['mediapipe']['version']} from {node_modules}" if node_modules
        else f"MediaPipe from {app['mediapipe']['cdn']} (for an offline copy, run `npm ci` where package.json is)"
    ]  # fmt: skip
    if host in ("0.0.0.0", "::", ""):
        notes.append("Listening on every network interface: anyone on your network can open the app and download its model files.")
    return server, f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{server.server_address[1]}/", notes
