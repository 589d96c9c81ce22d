"""Telemetry pages (national live dashboard, sources, campaigns)."""
from django.urls import path  # noqa: F401

app_name = "telemetry"

urlpatterns: list = []
