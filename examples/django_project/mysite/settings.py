"""One settings file: no database, no templates, no sessions.

A starting point for serving Django with Glade, not a production checklist
(run `python manage.py check --deploy` for that).
"""

import os

DEBUG = False
# Set DJANGO_SECRET_KEY in production; this fallback is for the example only.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

INSTALLED_APPS: list[str] = []
DATABASES: dict = {}
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]

USE_TZ = True
TIME_ZONE = "UTC"  # Django sets the process's TZ from this, and log times follow it

# With DEBUG off, Django only mails a 500's traceback to ADMINS; send it to
# stderr as well, which is Glade's error log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["stderr"], "level": "ERROR"}},
}
