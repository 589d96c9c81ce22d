from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

app_name = "registry-api"
router = SimpleRouter()
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("systems", views.InformationSystemViewSet, basename="system")
router.register("isacs", views.IsacViewSet, basename="isac")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("sectors", views.SectorViewSet, basename="sector")
router.register("provinces", views.ProvinceViewSet, basename="province")
router.register("level-frameworks", views.LevelFrameworkViewSet, basename="level-framework")
router.register("imports", views.ImportJobViewSet, basename="import")

urlpatterns = [
    path("stats/", views.StatsView.as_view(), name="stats"),
    *router.urls,
]
