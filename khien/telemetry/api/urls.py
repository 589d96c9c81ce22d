from django.urls import path, re_path

from . import elastic, views

app_name = "telemetry-api"

urlpatterns = [
    re_path(r"^alerts/?$", views.AlertIntakeView.as_view(), name="intake"),  # with or without the slash
    # Elasticsearch-compatible intake (elastic.py): with or without the slashes clients add or leave out.
    re_path(r"^elastic/?$", elastic.ElasticRoot.as_view(), name="elastic"),
    re_path(r"^elastic/_cat/health/?$", elastic.ElasticHealth.as_view(), name="elastic-health"),
    re_path(r"^elastic/_cluster/health/?$", elastic.ElasticClusterHealth.as_view(), name="elastic-cluster-health"),
    re_path(r"^elastic/_bulk/?$", elastic.ElasticBulk.as_view(), name="elastic-bulk"),
    re_path(r"^elastic/(?P<index>[A-Za-z0-9_.+-]{1,200})/_bulk/?$", elastic.ElasticIndexBulk.as_view(),
            name="elastic-index-bulk"),
    path("events/", views.EventList.as_view(), name="events"),
    path("alert-groups/", views.AlertList.as_view(), name="alert-groups"),
    path("alert-groups/triage/", views.AlertTriage.as_view(), name="alert-groups-triage"),
    path("alert-groups/add-to-incident/", views.AlertJoinIncident.as_view(), name="alert-groups-add-to-incident"),
    path("alert-groups/<uuid:pk>/", views.AlertDetail.as_view(), name="alert-group"),
    path("alert-groups/<uuid:pk>/related/", views.AlertRelated.as_view(), name="alert-group-related"),
    path("alert-groups/<uuid:pk>/incident/", views.AlertIncident.as_view(), name="alert-group-incident"),
    path("alert-groups/<uuid:pk>/suppress/", views.AlertSuppress.as_view(), name="alert-group-suppress"),
    path("suppressions/", views.SuppressionList.as_view(), name="suppressions"),
    path("suppressions/<uuid:pk>/lift/", views.SuppressionLift.as_view(), name="suppression-lift"),
    path("sources/", views.SourceListCreate.as_view(), name="sources"),
    path("sources/<str:name>/", views.SourceDetail.as_view(), name="source"),
    path("sources/<str:name>/rotate-key/", views.SourceKeyRotation.as_view(), name="source-rotate-key"),
    path("sources/<str:name>/systems/", views.SourceSystemsView.as_view(), name="source-systems"),
    path("sources/<str:name>/try/", views.SourceTry.as_view(), name="source-try"),
    path("sources/<str:name>/dead-letters/reprocess/", views.DeadLetterReprocess.as_view(),
         name="source-dead-letters-reprocess"),
    path("sources/<str:name>/dead-letters/discard/", views.DeadLetterDiscard.as_view(),
         name="source-dead-letters-discard"),
    path("dead-letters/", views.DeadLetterList.as_view(), name="dead-letters"),
    path("hourly/", views.HourlyCountList.as_view(), name="hourly"),
    path("monitoring/", views.MonitoredSystemList.as_view(), name="monitoring"),
]

# Indicator matching (views_matching.py)
from . import views_matching  # noqa: E402

urlpatterns += [
    path("hits/", views_matching.HitList.as_view(), name="hits"),
    path("campaigns/", views_matching.CampaignList.as_view(), name="campaigns"),
    path("campaigns/<uuid:pk>/", views_matching.CampaignDetail.as_view(), name="campaign"),
    path("campaigns/<uuid:pk>/<str:action>/", views_matching.CampaignAction.as_view(), name="campaign-action"),
    path("dashboard/", views_matching.DashboardView.as_view(), name="dashboard"),
]
