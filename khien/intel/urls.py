from django.urls import include, path

app_name = "intel"

urlpatterns = [
    path("taxii2/", include("khien.intel.taxii.urls")),
]
