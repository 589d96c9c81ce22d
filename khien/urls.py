from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from khien.core import views as core_views

urlpatterns = [
    # Django's language switch, also kept on a signed-in person's account (their e-mails follow it).
    path("i18n/setlang/", core_views.set_language, name="set_language"),
    path("", include("khien.core.urls")),
    path("", include("khien.registry.urls")),
    path("incidents/", include("khien.incidents.urls")),
    path("telemetry/", include("khien.telemetry.urls")),
    path("api/", include("khien.core.api.urls")),
    path("api/registry/", include("khien.registry.api.urls")),
    path("api/incidents/", include("khien.incidents.api.urls")),
    path("api/telemetry/", include("khien.telemetry.api.urls")),
    path("", include("khien.intel.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"), name="api-docs"),
]

handler400 = "khien.core.views.bad_request"
handler403 = "khien.core.views.permission_denied"
handler404 = "khien.core.views.page_not_found"
handler500 = "khien.core.views.server_error"
