"""Telemetry pages (national live dashboard, alerts, sources, campaigns)."""
from django.urls import path

from . import views

app_name = "telemetry"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("data/", views.dashboard_json, name="dashboard_data"),
    path("alerts/", views.alert_list, name="alerts"),
    path("alerts/triage/", views.alert_list_triage, name="alerts_triage"),
    path("alerts/add-to-incident/", views.alert_list_join_incident, name="alerts_join_incident"),
    path("alerts/<uuid:pk>/", views.alert_detail, name="alert"),
    path("alerts/<uuid:pk>/triage/", views.alert_triage, name="alert_triage"),
    path("alerts/<uuid:pk>/incident/", views.alert_incident, name="alert_incident"),
    path("alerts/<uuid:pk>/add-to-incident/", views.alert_join_incident, name="alert_join_incident"),
    path("alerts/<uuid:pk>/suppress/", views.alert_suppress, name="alert_suppress"),
    path("events/", views.event_list, name="events"),
    path("events/export/", views.event_export, name="events_export"),
    path("sources/", views.source_list, name="sources"),
    path("new-source/", views.source_create, name="source_create"),
    path("sources/<str:name>/", views.source_detail, name="source"),
    path("sources/<str:name>/settings/", views.source_settings, name="source_settings"),
    path("sources/<str:name>/rotate-key/", views.source_rotate_key, name="source_rotate_key"),
    path("sources/<str:name>/systems/", views.source_systems, name="source_systems"),
    path("sources/<str:name>/dead-letters/", views.source_dead_letters, name="source_dead_letters"),
    path("sources/<str:name>/try/", views.source_try, name="source_try"),
    path("sources/<str:name>/suppressions/<uuid:pk>/lift/", views.source_lift_suppression, name="source_lift_suppression"),
    path("integrations/<path:name>", views.integration_file, name="integration"),
    path("campaigns/", views.campaign_list, name="campaigns"),
    path("campaigns/<uuid:pk>/", views.campaign_detail, name="campaign"),
    path("campaigns/<uuid:pk>/<str:action>/", views.campaign_action, name="campaign_action"),
]
