from django.contrib.auth import views as auth_views
from django.urls import path

from . import guide, views

app_name = "core"

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/forgotten/", views.PasswordLinkRequestView.as_view(), name="password_forgotten"),
    path("accounts/password/set/<uidb64>/<token>/", views.PasswordSetView.as_view(), name="password_set"),
    path("accounts/2fa/", views.totp_verify, name="totp_verify"),
    path("accounts/2fa/enroll/", views.totp_enroll, name="totp_enroll"),
    path("me/tokens/", views.tokens, name="tokens"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/<int:seq>/", views.audit_entry, name="audit_entry"),
    path("audit/export/", views.audit_export_csv, name="audit_export"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/e-mail/", views.notification_email_settings, name="notification_email_settings"),
    path("guide/", guide.guide_index, name="guide"),
    path("guide/<slug:slug>/", guide.guide_page, name="guide_page"),
]
