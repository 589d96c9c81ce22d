from django.urls import path

from . import views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="incident_list"),
    path("new/", views.incident_create, name="incident_create"),
    path("stats/", views.incident_stats, name="stats"),
    path("tasks/", views.task_list, name="task_list"),
    path("new/systems/", views.systems_options, name="systems_options"),
    path("new/late/", views.late_field, name="late_field"),
    path("<uuid:pk>/", views.incident_detail, name="incident_detail"),
    path("<uuid:pk>/report.pdf", views.incident_pdf, name="incident_pdf"),
    path("<uuid:pk>/transition/", views.incident_transition, name="incident_transition"),
    path("<uuid:pk>/triage/", views.incident_triage, name="incident_triage"),
    path("<uuid:pk>/classification/", views.incident_classify, name="incident_classify"),
    path("<uuid:pk>/correct/", views.incident_correct, name="incident_correct"),
    path("<uuid:pk>/stages/<slug:code>/", views.incident_stage, name="incident_stage"),
    path("<uuid:pk>/assign/", views.incident_assign, name="incident_assign"),
    path("<uuid:pk>/assign/<uuid:responder_id>/remove/", views.incident_unassign, name="incident_unassign"),
    path("<uuid:pk>/comments/", views.incident_comment, name="incident_comment"),
    path("<uuid:pk>/tasks/", views.incident_task_add, name="incident_task_add"),
    path("<uuid:pk>/tasks/standard/", views.incident_tasks_standard, name="incident_tasks_standard"),
    path("<uuid:pk>/tasks/<uuid:task_id>/edit/", views.incident_task_edit, name="incident_task_edit"),
    path("<uuid:pk>/tasks/<uuid:task_id>/status/", views.incident_task_status, name="incident_task_status"),
    path("<uuid:pk>/evidence/", views.evidence_add, name="evidence_add"),
    path("<uuid:pk>/evidence/external/", views.evidence_external_add, name="evidence_external_add"),
    path("<uuid:pk>/evidence/<uuid:evidence_id>/custody/", views.evidence_custody, name="evidence_custody"),
    path("<uuid:pk>/evidence/<uuid:evidence_id>/seal/", views.evidence_seal, name="evidence_seal"),
    path("<uuid:pk>/evidence/<uuid:evidence_id>/verify/", views.evidence_verify, name="evidence_verify"),
    path("<uuid:pk>/observables/", views.observable_add, name="observable_add"),
    path("<uuid:pk>/observables/share/", views.observable_share, name="observable_share"),
    path("<uuid:pk>/observables/<uuid:observable_id>/remove/", views.observable_remove, name="observable_remove"),
    path("evidence/<uuid:pk>/download/", views.evidence_download, name="evidence_download"),
]
