from django.urls import path

from . import views

app_name = "core-api"

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("audit/", views.AuditEntryList.as_view(), name="audit"),
]
