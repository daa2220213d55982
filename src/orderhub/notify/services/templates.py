"""Message templates: one per event and channel (or for every channel), edited by administrators."""

from __future__ import annotations

from django.db import transaction
from django.template import TemplateSyntaxError
from django.utils.translation import gettext as _

from orderhub.core.actors import Actor
from orderhub.core.errors import PermissionDenied

from ..common import (
    CHANNELS,
    MANAGE_PERM,
    audit,
    clear_caches,
    invalid,
)
from ..models import (
    MessageTemplate,
)
from ..rendering import compile_template


def template_save(*, event: str, channel: str, subject: str, body: str, actor: Actor) -> MessageTemplate:
    """Create or change the template for (event, channel); syntax errors are refused by name."""
    if not actor.has_perm(MANAGE_PERM):
        raise PermissionDenied("forbidden", _("You may not change message templates."))
    if channel and channel not in CHANNELS:
        raise invalid(_("Unknown channel '%(c)s'.") % {"c": channel}, field="channel")
    if not event or len(event) > 64:
        raise invalid(_("The event must be 1 to 64 characters."), field="event")
    if not body.strip():
        raise invalid(_("The body must not be empty."), field="body")
    for name, text in (("subject", subject), ("body", body)):
        try:
            compile_template(text)
        except TemplateSyntaxError as e:
            raise invalid(_("Template syntax error in the %(field)s: %(error)s")
                                   % {"field": name, "error": e}, field=name) from e
    with transaction.atomic():
        t = MessageTemplate.objects.select_for_update().filter(event=event, channel=channel).first()
        before = {"subject": t.subject, "body": t.body} if t else {}
        if t is None:
            t = MessageTemplate(event=event, channel=channel)
        t.subject, t.body, t.updated_by = subject, body, actor.label[:150]
        t.save()
        audit("message_template", t.pk, "notify.template_saved", actor, before,
               {"subject": subject, "body": body}, data={"event": event, "channel": channel})
    clear_caches()
    return t


