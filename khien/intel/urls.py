from django.urls import include, path

app_name = "intel"

urlpatterns = [
    path("taxii2/", include("khien.intel.taxii.urls")),
    path("api/intel/", include("khien.intel.api.urls")),
]
