from django.urls import path

from . import views

app_name = "telemetry-api"

urlpatterns = [
    path("alerts", views.AlertIntakeView.as_view(), name="intake"),
    path("alerts/", views.AlertIntakeView.as_view(), name="intake-slash"),
    path("events/", views.EventList.as_view(), name="events"),
    path("alert-groups/", views.AlertList.as_view(), name="alert-groups"),
    path("sources/", views.SourceListCreate.as_view(), name="sources"),
    path("dead-letters/", views.DeadLetterList.as_view(), name="dead-letters"),
    path("hourly/", views.HourlyCountList.as_view(), name="hourly"),
]
