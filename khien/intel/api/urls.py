from rest_framework.routers import SimpleRouter

from . import views

app_name = "intel-api"
router = SimpleRouter()
router.register("collections", views.CollectionViewSet, basename="collection")
router.register("objects", views.StixObjectViewSet, basename="object")

urlpatterns = router.urls
