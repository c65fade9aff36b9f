"""The HTTP API and the question page: a thin FastAPI front end over the one :class:`Engine`.

Endpoints are plain ``def`` functions, so FastAPI runs the blocking engine calls in its
threadpool. Every error a caller can cause becomes a 4xx with ``{"detail": "..."}``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from index.api_models import (
    EXAMPLE_BODY, EXAMPLE_Q, AnswerOut, Article, AskIn, Health, Passage, Problem, SearchResult, Stats,
)
from index.engine import MAX_K, MAX_OFFSET
from index.errors import IndexBusy, IndexMismatch, IndexMissing, ModelUnavailable, NewsQAError

if TYPE_CHECKING:
    from index.engine import Engine
    from index.settings import Settings

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
# The page only talks to this server and never runs inline code, so article text cannot inject any.
PAGE_CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
MAX_BODY_BYTES = 200_000
UNAVAILABLE = (IndexMissing, IndexMismatch, IndexBusy, ModelUnavailable)


def is_loopback(host: str) -> bool:
    """Only loopback is private to this machine; a hostname other than localhost may resolve anywhere."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse to expose the index beyond this machine without a key (call before loading the model)."""
    if api_key and (not api_key.isascii() or not api_key.isprintable() or len(api_key) < 8):
        raise NewsQAError("NEWSQA_API_KEY must be at least 8 printable ASCII characters "
                          "(HTTP headers cannot carry other characters reliably)")
    if not is_loopback(host) and not api_key:
        raise NewsQAError(
            f"refusing to listen on {host} without an API key: anyone who can reach it could query the index. "
            "Set NEWSQA_API_KEY (in .env or the environment), or serve on --host 127.0.0.1."
        )


def _key_checker(api_key: str | None) -> Any:
    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The server's NEWSQA_API_KEY.")
    bearer = HTTPBearer(auto_error=False, description="The server's NEWSQA_API_KEY as a bearer token.")

    def require_key(key: str | None = Depends(header),
                    auth: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if api_key is None:
            return
        given = key or (auth.credentials if auth else None)
        if given is None or not secrets.compare_digest(given.encode(), api_key.encode()):
            raise HTTPException(401, "missing or wrong API key: send it as 'X-API-Key: <key>' or "
                                     "'Authorization: Bearer <key>'", headers={"WWW-Authenticate": "Bearer"})

    return require_key


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header"):
        return f"{parts[0]} parameter {'.'.join(parts[1:])!r}"
    if parts and parts[0] == "body":
        return f"field {'.'.join(parts[1:])!r}" if len(parts) > 1 else "the request body"
    return ".".join(parts) or "the request"


def describe_validation(errors: list[dict[str, Any]]) -> str:
    """One readable sentence per problem, instead of pydantic's nested structure."""
    out = []
    for err in errors:
        kind, where = err.get("type"), _where(tuple(err.get("loc", ())))
        if kind == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "")
            out.append(f"the request body is not valid JSON ({reason}); send e.g. {EXAMPLE_BODY}")
        elif kind == "missing":
            out.append(f"{where} is required")
        elif tuple(err.get("loc", ())) == ("body",):
            out.append(f"the request body must be a JSON object, e.g. {EXAMPLE_BODY}")
        elif kind == "extra_forbidden":
            out.append(f"{where} is not a known field (expected 'question' and optionally 'k' and 'previous')")
        else:
            out.append(f"{where}: {err.get('msg', 'is invalid')}")
    return "; ".join(out) or "the request is invalid"


def create_app(engine: Engine, api_key: str | None = None, *, default_k: int = 5) -> FastAPI:
    """The API over ``engine``; with ``api_key`` every API request must carry it."""
    app = FastAPI(
        title="NewsQA", version="0.1.0",
        description="Quoted answers with numbered citations from a news corpus, and the hybrid search behind them.",
        responses={400: {"model": Problem}, 401: {"model": Problem}, 422: {"model": Problem}},
    )
    guard = [Depends(_key_checker(api_key or None))]

    @app.middleware("http")
    async def _limit_body(request: Request, call_next: Any) -> Any:
        # A question is at most a few kilobytes: refuse huge bodies before reading them.
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"detail": f"request body over {MAX_BODY_BYTES // 1000} kB"}, status_code=413)
        return await call_next(request)

    @app.exception_handler(NewsQAError)
    def _newsqa_error(request: Request, exc: NewsQAError) -> JSONResponse:
        if isinstance(exc, UNAVAILABLE):
            log.error("cannot serve %s: %s", request.url.path, exc)
            return JSONResponse({"detail": str(exc)}, status_code=503)
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": describe_validation(list(exc.errors()))}, status_code=422)

    @app.exception_handler(Exception)
    def _bug(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after this response, so the server log still gets the traceback.
        return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)

    @app.get("/health", response_model=Health, dependencies=guard, tags=["service"],
             responses={503: {"model": Health, "description": "No index can be served."}})
    def health() -> Any:
        """Whether questions can be answered now, and which index build answers them."""
        try:
            s = engine.stats()
        except UNAVAILABLE as e:
            return JSONResponse(Health(ready=False, detail=str(e)).model_dump(), status_code=503)
        return Health(ready=True, built_at=s["built_at"], articles=s["articles"], passages=s["passages"],
                      model=s["model"])

    @app.head("/health", dependencies=guard, include_in_schema=False)
    def health_head() -> Any:
        # Uptime checks: the status code alone says ready (200) or not (503).
        return health()

    @app.get("/stats", response_model=Stats, dependencies=guard, tags=["service"])
    def stats() -> Any:
        """Counts, date range, sources, model, size and build time of the live index."""
        figures = engine.stats()
        figures.pop("index_path", None)  # where the server keeps its files is not the client's business
        return figures

    @app.get("/search", response_model=SearchResult, dependencies=guard, tags=["questions"])
    def search(
        q: str = Query(description="Question or keywords.", examples=[EXAMPLE_Q]),
        k: int = Query(10, ge=1, le=MAX_K, description="How many passages."),
        offset: int = Query(0, ge=0, le=MAX_OFFSET, description="Skip this many passages (for paging)."),
    ) -> Any:
        """Ranked passages with their article, the fused score, and each retriever's rank and score."""
        hits = engine.search(q, k=k, offset=offset)
        return {"q": q, "k": k, "offset": offset, "hits": [h.to_dict() for h in hits]}

    @app.post("/ask", response_model=AnswerOut, dependencies=guard, tags=["questions"])
    def ask(body: AskIn) -> Any:
        """A quoted answer with [n] citation markers: the same object ``newsqa ask --json`` prints."""
        return engine.ask(body.question, k=body.k or default_k, previous=body.previous).to_dict()

    def _article_or_404(article_id: str) -> dict[str, Any]:
        art = engine.article(article_id)
        if art is None:
            shown = article_id if len(article_id) <= 80 else article_id[:80] + "…"
            raise HTTPException(404, f"no article with id {shown!r}; ids come from /search or /ask "
                                     "(e.g. 001_eede6903985e59b8)")
        return art

    @app.get("/articles/{article_id}", response_model=Article, dependencies=guard, tags=["articles"],
             responses={404: {"model": Problem}})
    def article(article_id: str) -> Any:
        """An article's metadata and full text."""
        return _article_or_404(article_id)

    @app.get("/articles/{article_id}/passages", response_model=list[Passage], dependencies=guard,
             tags=["articles"], responses={404: {"model": Problem}})
    def article_passages(article_id: str) -> Any:
        """The article's passages in reading order, with their offsets in the article text."""
        _article_or_404(article_id)
        return engine.article_passages(article_id)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def page() -> FileResponse:
        # The page holds no data (it asks the API, with the key if one is set), so it is public.
        return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": PAGE_CSP})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def serve(settings: Settings, engine: Engine, host: str, port: int) -> None:
    """Run the API with uvicorn until interrupted."""
    import uvicorn

    check_bind(host, settings.api_key)
    app = create_app(engine, settings.api_key, default_k=settings.top_k)
    shown = f"[{host}]" if ":" in host else host
    log.info("serving NewsQA on http://%s:%d/ (API reference at /docs)%s", shown, port,
             "; API key required" if settings.api_key else "")
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())


@contextlib.contextmanager
def background_server(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` from a thread (port 0: a free one) and yield its base URL; for tests and benchmarks."""
    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="newsqa-api")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
