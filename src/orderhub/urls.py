from django.contrib import admin
from django.urls import include, path

from orderhub.api.api import api

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("orderhub.web.urls")),
]
