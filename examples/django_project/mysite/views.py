"""A form, a JSON API, a stream and a file, the Django way."""

import hashlib
import json
import time
from pathlib import Path

from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

INDEX = """<!doctype html>
<title>Glade + Django</title>
<h1>Glade + Django</h1>
<form method="post" action="/form">
  <input name="name" value="Zoë"> <button>POST urlencoded</button>
</form>
<form method="post" action="/form" enctype="multipart/form-data">
  <input name="name" value="Zoë"> <input type="file" name="upload">
  <button>POST multipart</button>
</form>
<ul>
  <li><a href="/stream">/stream</a>: lines sent as they are produced
  <li><a href="/source">/source</a>: this file, sent with wsgi.file_wrapper
</ul>
"""


@require_safe
def index(request):
    return HttpResponse(INDEX)


# csrf_exempt: an API for scripts, like the curl commands in examples/README.md.
# A form in a real site keeps CSRF protection and renders {% csrf_token %}.
@csrf_exempt
@require_POST
def form(request):
    """An urlencoded or multipart form: echo the fields, describe the files."""
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
    """POST JSON in, JSON out."""
    try:
        data = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "expected a JSON body"}, status=400)
    return JsonResponse({"received": data, "server": request.META.get("SERVER_SOFTWARE")})


@require_safe
def stream(request):
    """Each line goes out as it is made: chunked on HTTP/1.1."""
    count = int(request.GET.get("count", 5))

    def lines():
        for number in range(count):
            if number:
                time.sleep(0.2)  # under the gevent worker this yields to other requests
            yield f"line {number} of {count} for {request.META['REMOTE_ADDR']}\n"

    return StreamingHttpResponse(lines(), content_type="text/plain")


@require_safe
def source(request):
    """FileResponse hands the open file to wsgi.file_wrapper; Glade calls socket.sendfile."""
    return FileResponse(open(Path(__file__), "rb"), content_type="text/plain")
