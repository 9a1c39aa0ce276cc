"""`gankit serve`: a local web app (FastAPI, plain HTML/JS) over a folder of runs.

Browse runs and their reports; sample from a generator (seed, class, latent interpolation);
complete an uploaded or test image under a drawn/uploaded or named mask; attack an image and
see the perturbation and the predictions before and after; translate an image between domains.

Model calls run as jobs on one worker thread; the page polls /api/jobs/ID and shows their
state and elapsed time. Safety: binds 127.0.0.1 unless told otherwise and answers only
requests whose Host names the server (against DNS rebinding), and POSTs only from its own page
or from clients that send no Origin (against cross-site forms); request bodies are limited in
bytes while they stream in, and images in decoded pixels (checked from the header, before
decoding, so decompression bombs are refused); run paths from the client are resolved inside
the runs folder and refused if they leave it, are not a run, or hold a link out of it; reports
are rendered in memory (a GET writes nothing); the job store is bounded in queued jobs and in
kept results; a failing model call becomes a one-line error in its job, and the server
carries on.
"""

from __future__ import annotations

import base64
import io
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from fastapi import FastAPI, File, Form, HTTPException, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from PIL import Image
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gankit.data import from_uint8, match_channels
from gankit.errors import GankitError
from gankit.imaging import image_grid
from gankit.options import SEED_MAX
from gankit.runs import MANIFEST, run_kind

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
FORM_OVERHEAD = 64 * 1024  # a request's bytes beyond its two uploads: fields, boundaries
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_DIRECTIONS = 10  # explore sliders
MAX_PENDING_JOBS = 16  # queued or running; more are answered 503
MAX_KEPT_JOBS = 200  # finished jobs whose results can still be polled
JOB_KEEP_SECONDS = 15 * 60


# A job's numbers have server-side limits: one over them is answered 422, naming the limit.
def _index() -> Any:
    return Form(0, ge=0, le=9_999)  # the test image to use when none is uploaded


def _amounts(text: str) -> list[float]:
    """The explore sliders' positions: 1 to MAX_DIRECTIONS finite numbers within ±10
    (latent standard deviations), comma-separated; else HTTP 422 naming the limit."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise HTTPException(422, f"amounts must be comma-separated numbers, got {text!r}") from None
    if not 1 <= len(values) <= MAX_DIRECTIONS or not all(abs(v) <= 10 for v in values):
        raise HTTPException(422, f"amounts: 1 to {MAX_DIRECTIONS} numbers, each within ±10 "
                                 f"latent standard deviations, got {text!r}")
    return values


def _seed() -> Any:
    return Form(0, ge=0, le=SEED_MAX)


LOG = logging.getLogger("gankit.serve")  # one line per finished job


@dataclass
class Job:
    id: str
    action: str
    started: float = field(default_factory=time.monotonic)
    state: str = "queued"  # queued, running, done, error
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def view(self) -> dict[str, Any]:
        end = self.finished or time.monotonic()
        return {"id": self.id, "action": self.action, "state": self.state,
                "seconds": round(end - self.started, 1), "result": self.result,
                "error": self.error}


def png_uri(images: torch.Tensor, nrow: int | None = None, scale: int = 4) -> str:
    """Images in [-1, 1] as one PNG grid, as a data URI."""
    grid = image_grid(images.detach().cpu().float(), nrow)
    grid = grid.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)
    pixels = (grid.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_image(data: bytes, shape: tuple[int, int, int], *, max_bytes: int = MAX_UPLOAD_BYTES,
                 max_pixels: int = MAX_PIXELS, what: str = "upload",
                 resize: bool = True) -> torch.Tensor:
    """An uploaded image as a (1, C, H, W) tensor in [-1, 1] of the model's shape: resized to
    it, or with `resize=False` (masks, as on the command line) refused unless it has it."""
    if len(data) > max_bytes:
        raise HTTPException(413, f"the {what} is {len(data)} bytes; the limit is {max_bytes}")
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size  # from the header: nothing is decoded yet
    except Image.DecompressionBombError:  # PIL's own limit, far above ours
        raise HTTPException(400, f"the {what} has more pixels than the limit of "
                                 f"{max_pixels}") from None
    except Exception:
        raise HTTPException(400, f"the {what} is not an image PNG, JPEG, ... can read") from None
    if width * height > max_pixels:
        raise HTTPException(400, f"the {what} is {width}x{height} pixels; the limit is "
                                 f"{max_pixels} pixels")
    c, h, w = shape
    if not resize and (height, width) != (h, w):
        raise HTTPException(400, f"the {what} is {width}x{height} pixels; the model's images "
                                 f"are {w}x{h}")
    try:
        image.load()
    except Exception:
        raise HTTPException(400, f"the {what} is a damaged image") from None
    tensor = from_uint8(np.asarray(image.convert("L" if c == 1 else "RGB"))[None])
    if tensor.shape[-2:] != (h, w):
        tensor = F.interpolate(tensor, size=(h, w), mode="bilinear", antialias=True)
    return match_channels(tensor.clamp(-1, 1), c)


class Runs:
    """The runs folder; every client-given path is checked to stay inside it."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def resolve(self, relative: str, kind: str | None = None) -> Path:
        """The run folder `relative` names: inside the runs folder, a run (of `kind`), and
        holding no link that leads out of the runs folder."""
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise HTTPException(400, f"{relative!r} leaves the runs folder")
        found = self.kind(path) if path.is_dir() else None
        if found is None:
            raise HTTPException(404, f"no run {relative!r} in the runs folder")
        if kind is not None and found != kind:
            raise HTTPException(400, f"{relative!r} is not a {kind} run")
        for entry in path.rglob("*"):
            if entry.is_symlink() and not entry.resolve().is_relative_to(self.root):
                raise HTTPException(403, f"{relative!r} holds a link out of the runs folder "
                                         f"({entry.relative_to(path)}); it is not served")
        return path

    @staticmethod
    def kind(path: Path) -> str | None:
        """The run kind of `path` (gankit.runs), or None for a folder that is not a run."""
        try:
            return run_kind(path)
        except GankitError:
            return None

    def listing(self) -> list[dict[str, Any]]:
        runs = []
        for file in self.root.rglob(MANIFEST):
            kind = self.kind(file.parent)
            if kind is not None:
                path = str(file.parent.relative_to(self.root))
                runs.append({"path": path, "kind": kind, "summary": self.summary(path)})
        return sorted(runs, key=lambda r: r["path"])

    def summary(self, relative: str) -> str:
        """What a run was trained on and its scores in one line ("" for a run not served)."""
        from gankit.report import headline_numbers, read_config

        try:
            path = self.resolve(relative)
            data = read_config(path).get("data")
            numbers = headline_numbers(path)
        except (HTTPException, GankitError, OSError, ValueError):
            return ""
        return ", ".join([*([str(data)] if data else []),
                          *(f"{name} {value}" for name, value in numbers.items())])


class GuardRequests:
    """ASGI middleware: refuses a request body over `max_body` bytes (413) as it streams in,
    not after it was spooled whole, and a state-changing request whose Origin is another site
    than the Host it was sent to (403)."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        if (scope["method"] not in ("GET", "HEAD", "OPTIONS") and origin is not None
                and origin.split("://", 1)[-1] != headers.get("host")):
            await JSONResponse({"detail": f"a request from {origin} is refused: only this "
                                          "server's own page may send jobs"}, 403)(
                scope, receive, send)
            return
        too_large = JSONResponse({"detail": f"the request is over {self.max_body} bytes"}, 413)
        if int(headers.get("content-length") or 0) > self.max_body:
            await too_large(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        # Read the body here, at most `max_body` bytes of it (a chunked upload sends no
        # length), and hand it on whole: the form parser never sees more.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await too_large(scope, receive, send)
                return
            if not message.get("more_body"):
                break
        whole: list[Message] = [{"type": "http.request", "body": bytes(body),
                                 "more_body": False}]

        async def replay() -> Message:
            return whole.pop() if whole else await receive()

        await self.app(scope, replay, send)


def create_app(runs_dir: str | Path = "runs", *, max_bytes: int = MAX_UPLOAD_BYTES,
               max_pixels: int = MAX_PIXELS, device: str = "cpu",
               hosts: Sequence[str] = LOCAL_HOSTS) -> FastAPI:
    """The app over `runs_dir`, answering requests whose Host is one of `hosts` ("*": any)."""
    from gankit.serve import actions

    runs = Runs(runs_dir)
    app = FastAPI(title="gankit", docs_url=None, redoc_url=None)
    app.add_middleware(GuardRequests, max_body=2 * max_bytes + FORM_OVERHEAD)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))
    jobs: dict[str, Job] = {}
    lock = threading.Lock()
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gankit-job")

    def submit(action: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        job = Job(uuid.uuid4().hex[:12], action)
        with lock:
            # finished jobs are kept for polling a while, and only so many: the newest
            now = time.monotonic()
            finished = sorted((j.finished, j.id) for j in jobs.values() if j.finished is not None)
            kept = [i for t, i in finished if now - t <= JOB_KEEP_SECONDS][-MAX_KEPT_JOBS:]
            for _, i in finished:
                if i not in kept:
                    del jobs[i]
            if sum(j.finished is None for j in jobs.values()) >= MAX_PENDING_JOBS:
                raise HTTPException(503, f"{MAX_PENDING_JOBS} jobs are queued or running; "
                                         "try again when one is done")
            jobs[job.id] = job

        def run() -> None:
            job.state = "running"
            result, error = None, None
            try:
                result = fn()
            except (GankitError, HTTPException) as err:
                error = (getattr(err, "detail", None) or str(err)).splitlines()[0]
            except Exception as err:  # the page shows it; the server keeps serving
                first = (str(err).splitlines() or [""])[0]
                error = f"{action} failed ({type(err).__name__}: {first})"
            finished = time.monotonic()
            LOG.info("job %s %s: %s in %.1f s%s", job.id, action, "error" if error else "done",
                     finished - job.started, f" ({error})" if error else "")
            # published last, so that a client sees the end only once it is logged
            job.result, job.error, job.finished = result, error, finished
            job.state = "error" if error else "done"

        worker.submit(run)
        return job.view()

    def upload(file: UploadFile | None, shape: tuple[int, int, int],
               what: str, resize: bool = True) -> torch.Tensor | None:
        if file is None:
            return None
        return decode_image(file.file.read(max_bytes + 1), shape, max_bytes=max_bytes,
                            max_pixels=max_pixels, what=what, resize=resize)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return resources.files("gankit.serve").joinpath("page.html").read_text()

    @app.get("/api/runs")
    def list_runs() -> list[dict[str, Any]]:
        return runs.listing()

    @app.get("/api/report", response_class=HTMLResponse)
    def report(run: str) -> str:
        from gankit.report import render_report

        try:
            return render_report([runs.resolve(run)], shown=[run])
        except GankitError as err:
            raise HTTPException(400, str(err)) from None

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str) -> dict[str, Any]:
        with lock:
            found = jobs.get(job_id)
        if found is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return found.view()

    @app.post("/api/sample")
    def sample(run: str = Form(...), seed: int = _seed(), n: int = Form(16, ge=1, le=256),
               class_name: str = Form(""),
               interpolate: int = Form(0, ge=0, le=32)) -> dict[str, Any]:
        path = runs.resolve(run, "gan")
        return submit("sample", lambda: actions.sample(path, seed, n, class_name, interpolate,
                                                       device))

    @app.post("/api/inpaint")
    def inpaint(run: str = Form(...), method: str = Form("latent"), mask: str = Form("center"),
                index: int = _index(), seed: int = _seed(), image: UploadFile | None = File(None),
                mask_image: UploadFile | None = File(None)) -> dict[str, Any]:
        path = runs.resolve(run)
        shape = actions.image_shape(path)
        picture = upload(image, shape, "image")
        drawn = upload(mask_image, (1, *shape[1:]), "mask", resize=False)
        return submit("inpaint", lambda: actions.inpaint(path, method, mask, drawn, picture,
                                                         index, seed, device))

    @app.post("/api/attack")
    def attack(run: str = Form(...), method: str = Form("pgd"),
               eps: float = Form(0.1, gt=0, le=1), index: int = _index(),
               image: UploadFile | None = File(None)) -> dict[str, Any]:
        path = runs.resolve(run, "classifier")
        picture = upload(image, actions.image_shape(path), "image")
        return submit("attack", lambda: actions.attack(path, method, eps, picture, index,
                                                       device))

    @app.post("/api/translate")
    def translate(run: str = Form(...), direction: str = Form("a2b"), index: int = _index(),
                  image: UploadFile | None = File(None)) -> dict[str, Any]:
        path = runs.resolve(run, "translator")
        picture = upload(image, actions.image_shape(path), "image")
        return submit("translate", lambda: actions.translate(path, direction, picture, index,
                                                             device))

    @app.post("/api/explore")
    def explore(run: str = Form(...), method: str = Form("sefa"), seed: int = _seed(),
                amounts: str = Form("0,0,0,0,0"), class_name: str = Form("")) -> dict[str, Any]:
        path = runs.resolve(run, "gan")
        values = _amounts(amounts)
        return submit("explore", lambda: actions.explore(path, method, seed, values,
                                                         class_name, device))

    app.state.shutdown = worker.shutdown
    return app


__all__ = ["create_app", "decode_image", "png_uri"]
