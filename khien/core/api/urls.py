from django.urls import path

from . import views

app_name = "core-api"

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("audit/", views.AuditEntryList.as_view(), name="audit"),
    path("audit/<int:seq>/", views.AuditEntryDetail.as_view(), name="audit-detail"),
    path("notifications/", views.NotificationList.as_view(), name="notifications"),
    path("notifications/read/", views.NotificationRead.as_view(), name="notifications-read"),
]
