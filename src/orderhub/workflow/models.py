from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class WorkflowDefinition(models.Model):
    """One immutable version of a lifecycle. Editing saves a new version; orders keep theirs."""

    code = models.CharField(_("code"), max_length=32)
    version = models.PositiveIntegerField(_("version"))
    name = models.CharField(_("name"), max_length=100)
    spec = models.JSONField(_("definition"))
    is_current = models.BooleanField(_("current"), default=True)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.CharField(_("created by"), max_length=150)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("workflow definition")
        verbose_name_plural = _("workflow definitions")
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="workflow_version_unique"),
            models.UniqueConstraint(fields=["code"], condition=Q(is_current=True),
                                    name="workflow_one_current"),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version} {self.name}"
