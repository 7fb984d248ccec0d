from django.contrib import admin
from django.urls import include, path, register_converter

from digest import views as digest_views
from subscribers import views as subscriber_views


class DateConverter:
    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value):
        import datetime as dt

        return dt.date.fromisoformat(value)

    def to_url(self, value):
        return value.isoformat() if hasattr(value, "isoformat") else str(value)


register_converter(DateConverter, "isodate")

urlpatterns = [
    path("", digest_views.home, name="home"),
    path("papers/<isodate:day>/", digest_views.day, name="day"),
    path("paper/<path:identifier>/", digest_views.paper, name="paper"),
    path("topics/<slug:slug>/", digest_views.topic, name="topic"),
    path("healthz", digest_views.healthz, name="healthz"),
    path("subscribe/", subscriber_views.subscribe, name="subscribe"),
    path("confirm/<str:token>/", subscriber_views.confirm, name="confirm"),
    path("u/<str:token>/", subscriber_views.manage, name="manage"),
    path("u/<str:token>/unsubscribe/", subscriber_views.unsubscribe, name="unsubscribe"),
    path("u/<str:token>/email/", subscriber_views.change_email, name="change_email"),
    path("u/<str:token>/export/", subscriber_views.export, name="export"),
    path("u/<str:token>/delete/", subscriber_views.delete, name="delete"),
    path("u/<str:token>/edition/<int:edition_id>/", subscriber_views.edition_matches, name="edition_matches"),
    path("f/<str:token>/<str:action>/<int:target>/", subscriber_views.feedback, name="feedback"),
    path("email/<str:token>/", subscriber_views.email_change, name="email_change"),
    path("anymail/", include("anymail.urls")),
    path("admin/", admin.site.urls),
]
