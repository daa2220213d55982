from django.contrib import admin
from django.urls import include, path

from orderhub.api.api import api
from orderhub.observability import views as observability

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", observability.healthz, name="healthz"),
    path("metrics", observability.prometheus, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("orderhub.web.urls")),
]
