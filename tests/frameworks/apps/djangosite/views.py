"""The same URLs as flaskapp.py, the Django way."""

from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path

import common
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

STATIC = Path(__file__).resolve().parent.parent / "static"


@require_safe
def hello(request):
    return HttpResponse("Hello from Django\n", content_type="text/plain; charset=utf-8")


@require_safe
def greet(request, name: str):
    """Non-ASCII in the path and the query, through PATH_INFO's latin-1 round trip."""
    return JsonResponse(
        {"name": name, "title": request.GET.get("title", ""), "url": request.build_absolute_uri()}
    )


@csrf_exempt
@require_POST
def form(request):
    """An urlencoded or multipart form; files are described, not echoed."""
    files = {}
    for field, upload in request.FILES.items():
        data = upload.read()
        files[field] = {
            "filename": upload.name,
            "content_type": upload.content_type,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    fields = {key: request.POST.getlist(key) for key in request.POST}
    return JsonResponse({"fields": fields, "files": files})


@csrf_exempt
@require_POST
def api_echo(request):
    try:
        data = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "expected a JSON body"}, status=400)
    length = request.META.get("CONTENT_LENGTH")
    return JsonResponse(
        {
            "received": data,
            "keys": sorted(data) if isinstance(data, dict) else [],
            "content_length": int(length) if length else None,
        }
    )


@require_safe
def stream(request):
    """`count` lines, `delay` seconds apart; each says when it was produced."""
    count = int(request.GET.get("count", 5))
    delay = float(request.GET.get("delay", 0))

    def lines():
        for number in range(count):
            if number and delay:
                time.sleep(delay)
            yield f"{request.path} line {number} at {time.monotonic():.6f}\n"

    return StreamingHttpResponse(lines(), content_type="text/plain")


@require_safe
def static_file(request, name: str):
    path = STATIC / name
    if not path.is_file() or path.parent != STATIC:
        raise Http404(name)
    return FileResponse(open(path, "rb"), content_type="text/plain")


@require_safe
def generated(request):
    """A download made in memory: a BytesIO has no fileno(), so no sendfile."""
    return FileResponse(
        io.BytesIO(common.generated_bytes()),
        content_type="text/csv",
        as_attachment=True,
        filename="report.csv",
    )


@require_safe
def big(request):
    """The large file, opened as a CountingFile: /reads tells how it was sent."""
    return FileResponse(
        common.CountingFile(common.big_file_path()),
        content_type="application/octet-stream",
        filename="big.bin",
    )


@require_safe
def reads(request):
    return JsonResponse({"bytes_read": common.bytes_read()})


@require_safe
def cookies(request):
    response = JsonResponse({"received": request.COOKIES})
    response.set_cookie("first", "1")
    response.set_cookie("second", "2", httponly=True)
    return response
