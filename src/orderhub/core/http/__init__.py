"""What every app's JSON API is built from: authentication and capabilities (``auth``), the
shared field types and the error shape (``schemas``). Below the apps, so an app's ``api.py``
never imports the API assembly (``orderhub.api``)."""
