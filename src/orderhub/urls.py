from django.contrib import admin
from django.urls import include, path

from orderhub.api.api import api
from orderhub.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
