from django.urls import include, path

from . import views, views_collections, views_warnings

app_name = "intel"

urlpatterns = [
    path("taxii2/", include("khien.intel.taxii.urls")),
    path("api/intel/", include("khien.intel.api.urls")),
    # pages
    path("intel/", views.intel_search, name="search"),
    # before the object's page: "revoke" is not a STIX id
    path("intel/objects/revoke/", views.objects_revoke, name="objects_revoke"),
    path("intel/objects/<str:stix_id>/", views.object_detail, name="object"),
    path("intel/objects/<str:stix_id>/stix.json", views.object_download, name="object_download"),
    path("intel/objects/<str:stix_id>/revoke/", views.object_revoke, name="object_revoke"),
    path("intel/objects/<str:stix_id>/sighting/", views.object_sighting, name="object_sighting"),
    path("intel/objects/<str:stix_id>/correct/", views.indicator_correct, name="indicator_correct"),
    path("intel/indicators/new/", views.indicator_create, name="indicator_create"),
    path("intel/reports/new/", views.report_create, name="report_create"),
    path("intel/sharing/audience/", views.sharing_audience, name="sharing_audience"),
    path("intel/collections/", views_collections.collection_list, name="collection_list"),
    path("intel/collections/new/", views_collections.collection_create, name="collection_create"),
    path("intel/collections/<uuid:pk>/", views_collections.collection_detail, name="collection_detail"),
    path("intel/collections/<uuid:pk>/members/", views_collections.collection_member, name="collection_member"),
    path("intel/warnings/", views_warnings.warning_inbox, name="warning_inbox"),
    path("intel/warnings/new/", views_warnings.warning_create, name="warning_create"),
    path("intel/warnings/indicators/", views_warnings.indicator_pick, name="indicator_pick"),
    path("intel/warnings/<uuid:pk>/", views_warnings.warning_detail, name="warning_detail"),
    path("intel/warnings/<uuid:pk>/download/<str:fmt>/", views_warnings.warning_download, name="warning_download"),
    path("intel/warnings/<uuid:pk>/remind/", views_warnings.warning_remind, name="warning_remind"),
    path("intel/warnings/<uuid:pk>/updates/", views_warnings.warning_update, name="warning_update"),
    path("intel/warnings/answers/<int:pk>/", views_warnings.warning_acknowledge, name="warning_acknowledge"),
    path("intel/allowlist/", views_warnings.allowlist, name="allowlist"),
    path("intel/allowlist/<int:pk>/delete/", views_warnings.allowlist_delete, name="allowlist_delete"),
]

# Exchange pages: import, export, partner TAXII servers (helper intelexchange).
from . import views_exchange  # noqa: E402
urlpatterns += [
    path("intel/exchange/", views_exchange.exchange_import, name="exchange"),
    path("intel/exchange/export/", views_exchange.exchange_export, name="exchange_export"),
    path("intel/exchange/federation/", views_exchange.exchange_federation, name="exchange_federation"),
    path("intel/exchange/federation/<uuid:pk>/", views_exchange.exchange_subscription_edit,
         name="exchange_subscription_edit"),
    path("intel/exchange/federation/<uuid:pk>/pull/", views_exchange.exchange_subscription_pull,
         name="exchange_subscription_pull"),
    path("intel/exchange/federation/<uuid:pk>/delete/", views_exchange.exchange_subscription_delete,
         name="exchange_subscription_delete"),
]
