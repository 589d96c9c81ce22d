from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views, views_warnings

app_name = "intel-api"
router = SimpleRouter()
router.register("collections", views.CollectionViewSet, basename="collection")
router.register("objects", views.StixObjectViewSet, basename="object")
router.register("warnings", views_warnings.WarningViewSet, basename="warning")
router.register("allowlist", views_warnings.AllowListViewSet, basename="allowlist")

urlpatterns = router.urls + [
    path("values/", views.ValueProvenanceView.as_view(), name="value-provenance"),
    path("warninglists/check/", views_warnings.WarningListCheckView.as_view(), name="warninglist-check"),
    path("blocklists/ip.txt", views_warnings.IpBlocklistView.as_view(), name="blocklist-ip"),
    path("blocklists/domains.txt", views_warnings.DomainBlocklistView.as_view(), name="blocklist-domains"),
    path("blocklists/rpz.zone", views_warnings.RpzView.as_view(), name="blocklist-rpz"),
]

# Exchange (import/export files) and federation subscriptions (helper intelexchange).
from . import views_exchange  # noqa: E402
exchange_router = SimpleRouter()
exchange_router.register("subscriptions", views_exchange.SubscriptionViewSet, basename="subscription")
urlpatterns += exchange_router.urls + [
    path("exchange/import/", views_exchange.ImportView.as_view(), name="exchange-import"),
    path("exchange/export/", views_exchange.ExportView.as_view(), name="exchange-export"),
]
