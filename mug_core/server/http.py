"""HTTP routes: participant pages, the browser kernel, plugin bundles and vendored packages."""

from __future__ import annotations

import functools
import html
import io
import json
import mimetypes
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from quart import Quart, Response, redirect, request, send_from_directory

from mug_core.server.assets import CLIENT_DIR
from mug_core.server.ids import PARTICIPANT_ID_RULE, is_valid_participant_id, new_participant_id

if TYPE_CHECKING:
    from mug_core.server.server import MugServer

mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Participant ids are in the URL; never leak them to other sites.
    "Referrer-Policy": "no-referrer",
}


def _boot_json(data: dict) -> str:
    # Safe inside <script type="application/json">: no "</script>" or "<!--" can appear.
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@functools.cache
def env_side_zip() -> bytes:
    """The parts of ``mug_core`` an env imports (``mug_core.rendering``), as a zip to unpack into
    Pyodide's site-packages. Standard library only, so they run in the browser."""
    root = CLIENT_DIR.parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(root / "__init__.py", "mug_core/__init__.py")
        for file in sorted((root / "rendering").glob("*.py")):
            archive.write(file, f"mug_core/rendering/{file.name}")
    return buffer.getvalue()


async def _listed_file(files: dict[str, Path], name: str, cache_control: str) -> Response:
    """Serve ``files[name]`` (only names the server listed, never a path from the URL)."""
    file = files.get(name)
    if file is None:
        return Response("not found", status=404)
    response = await send_from_directory(file.parent, file.name)
    response.headers["Cache-Control"] = cache_control
    return response


def _error_page(title: str, message: str, status: int) -> Response:
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><link rel='stylesheet' href='/static/mug/style.css'>"
        f"</head><body><main class='mug-page'><h1>{html.escape(title)}</h1>"
        f"<p class='mug-error-panel'>{html.escape(message)}</p></main></body></html>"
    )
    return Response(body, status=status, content_type="text/html; charset=utf-8")


def build_http_app(server: MugServer) -> Quart:
    """The quart app serving everything but the socket."""
    app = Quart("mug_core", static_folder=None)
    template = (CLIENT_DIR / "index.html").read_text(encoding="utf-8")

    @app.after_request
    async def _headers(response: Response) -> Response:
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.get("/")
    async def new_participant() -> Response:
        query = request.query_string.decode("latin-1")
        target = f"/{new_participant_id()}" + (f"?{query}" if query else "")
        return redirect(target)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response("ok", content_type="text/plain")

    @app.get("/<participant_id>")
    async def participant_page(participant_id: str) -> Response:
        if not is_valid_participant_id(participant_id):
            return _error_page(
                "This link is not valid",
                f"The participant id in this link is not valid (it must be {PARTICIPANT_ID_RULE})."
                " Please use the link you were given.",
                400,
            )
        boot = {
            "participant_id": participant_id,
            "experiment_id": server.config.experiment_id,
            "modules": server.client_modules,
            "socket_path": "/socket.io",
            "max_payload_bytes": server.config.max_payload_bytes,
            "runtimes": server.runtimes_used,
        }
        page = template.replace("{{boot_json}}", _boot_json(boot)).replace(
            "{{socketio_url}}", "/vendor/socket.io.min.js"
        )
        return Response(page, content_type="text/html; charset=utf-8")

    @app.get("/python/mug_core.zip")
    async def env_side_python() -> Response:
        response = Response(env_side_zip(), content_type="application/zip")
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.get("/static/<bundle>/<path:path>")
    async def static_file(bundle: str, path: str) -> Response:
        folder = server.static_dirs.get(bundle)
        if folder is None:
            return Response("not found", status=404)
        response = await send_from_directory(folder, path)
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.get("/study-files/<path:name>")
    async def study_file(name: str) -> Response:
        # Names are content hashes or fixed study files: safe to cache for good.
        return await _listed_file(server.study_files, name, "public, max-age=31536000, immutable")

    @app.get("/vendor/<path:path>")
    async def vendor_file(path: str) -> Response:
        return await _listed_file(server.vendor_files, path, "public, max-age=86400")

    return app
