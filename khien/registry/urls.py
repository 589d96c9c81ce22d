from django.urls import path

from . import views

app_name = "registry"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("organizations/", views.organization_list, name="organization_list"),
    path("systems/", views.system_list, name="system_list"),
    path("isacs/", views.isac_list, name="isac_list"),
    path("import/", views.import_page, name="import"),
]
