"""Workload G: a Django view that renders a small template, served as django_app:app.

The whole project is this module and templates/items.html: settings.configure with
DEBUG off, no database and no installed apps, and the middleware `startproject` writes
minus the three that need a database or sessions (sessions, auth, messages). The
template goes through Django's default loaders, which cache compiled templates when
DEBUG is off, so a request pays for rendering, not for parsing the file.
"""

from pathlib import Path

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="glade-bench-not-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [Path(__file__).resolve().parent / "templates"],
        }
    ],
    USE_TZ=True,
    # With DEBUG off Django would only mail a 500's traceback to ADMINS; print it.
    LOGGING={
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"stderr": {"class": "logging.StreamHandler"}},
        "loggers": {"django": {"handlers": ["stderr"], "level": "ERROR"}},
    },
)

from django.core.wsgi import get_wsgi_application  # noqa: E402  (needs the settings)
from django.shortcuts import render  # noqa: E402
from django.urls import path  # noqa: E402

PRODUCTS = (
    ("Espresso", 250, False),
    ("Cappuccino", 320, True),
    ("Flat white", 340, False),
    ("Tea", 200, False),
    ("Hot chocolate", 300, True),
    ("Croissant", 220, False),
    ("Pain au chocolat", 240, False),
    ("Muffin", 280, True),
    ("Bagel", 310, False),
    ("Cookie", 150, False),
)


def _price(cents):
    return f"{cents // 100}.{cents % 100:02d}"


def items(request):
    """Build the context per request, as a view that read a database would."""
    rows = [{"name": n, "price": _price(c), "sale": sale} for n, c, sale in PRODUCTS]
    context = {
        "title": "Today's menu",
        "user_name": request.GET.get("name", "guest"),
        "items": rows,
        "total": _price(sum(cents for _, cents, _ in PRODUCTS)),
    }
    return render(request, "items.html", context)


urlpatterns = [path("items", items)]

app = get_wsgi_application()
