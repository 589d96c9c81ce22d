from django.urls import path

from . import views

app_name = "registry"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("organizations/", views.organization_list, name="organization_list"),
    path("organizations/new/", views.organization_create, name="organization_create"),
    path("organizations/<uuid:pk>/", views.organization_detail, name="organization_detail"),
    path("organizations/<uuid:pk>/edit/", views.organization_edit, name="organization_edit"),
    path("organizations/<uuid:pk>/delete/", views.organization_delete, name="organization_delete"),
    path("organizations/<uuid:pk>/members/", views.organization_member_add, name="organization_member_add"),
    path("organizations/<uuid:pk>/members/<int:membership_id>/role/", views.organization_member_role,
         name="organization_member_role"),
    path("organizations/<uuid:pk>/members/<int:membership_id>/remove/", views.organization_member_remove,
         name="organization_member_remove"),
    path("organizations/<uuid:pk>/members/<int:membership_id>/second-factor/", views.organization_member_second_factor,
         name="organization_member_second_factor"),
    path("systems/", views.system_list, name="system_list"),
    path("systems/new/", views.system_create, name="system_create"),
    path("systems/suggest-level/", views.system_suggest, name="system_suggest"),
    path("systems/<uuid:pk>/", views.system_detail, name="system_detail"),
    path("systems/<uuid:pk>/edit/", views.system_edit, name="system_edit"),
    path("systems/<uuid:pk>/delete/", views.system_delete, name="system_delete"),
    path("systems/<uuid:pk>/steps/<slug:step>/", views.system_step, name="system_step"),
    path("systems/<uuid:pk>/files/", views.system_upload, name="system_upload"),
    path("dossier-files/<uuid:pk>/", views.dossier_download, name="dossier_download"),
    path("dossier-files/<uuid:pk>/remove/", views.dossier_remove, name="dossier_remove"),
    path("isacs/", views.isac_list, name="isac_list"),
    path("isacs/new/", views.isac_create, name="isac_create"),
    path("isacs/<uuid:pk>/", views.isac_detail, name="isac_detail"),
    path("isacs/<uuid:pk>/edit/", views.isac_edit, name="isac_edit"),
    path("import/", views.import_page, name="import"),
    path("import/<uuid:pk>/", views.import_job, name="import_job"),
    path("import/<uuid:pk>/progress/", views.import_progress, name="import_progress"),
]
