from django.urls import path

from djangosite import views

urlpatterns = [
    path("hello", views.hello),
    path("greet/<str:name>", views.greet),
    path("form", views.form),
    path("api/echo", views.api_echo),
    path("stream", views.stream),
    path("static/<str:name>", views.static_file),
    path("generated", views.generated),
    path("big", views.big),
    path("reads", views.reads),
    path("cookies", views.cookies),
]
