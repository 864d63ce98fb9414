from django.urls import path

from mysite import views

urlpatterns = [
    path("", views.index),
    path("form", views.form),
    path("api/echo", views.api_echo),
    path("stream", views.stream),
    path("source", views.source),
]
