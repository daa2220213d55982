"""``django.contrib.admin`` with OrderHub's site (``core.admin_site``: read-only, superusers
only). Listed in ``INSTALLED_APPS`` instead of ``django.contrib.admin``; a module of its own so
importing it loads no models."""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "orderhub.core.admin_site.SuperuserAdminSite"
