from rest_framework.routers import SimpleRouter

app_name = "registry-api"
router = SimpleRouter()
urlpatterns = router.urls
