"""Settings of the test Django site: no database, no templates, no sessions."""

from __future__ import annotations

DEBUG = False
SECRET_KEY = "glade-tests-not-secret"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "djangosite.urls"
WSGI_APPLICATION = "djangosite.wsgi.application"

INSTALLED_APPS: list[str] = []
DATABASES: dict = {}
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
USE_TZ = True
TIME_ZONE = "UTC"  # as startproject writes it; Django sets the process TZ from it

# Above this size an upload goes to a temporary file instead of memory; the
# tests upload one file on each side of it.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# With DEBUG off Django would only mail a 500's traceback to ADMINS. Send it
# to stderr, which is Glade's error log, so that the tests see it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["stderr"], "level": "ERROR"}},
}
