from django.db import migrations


def seed(apps, schema_editor):
    from orderhub.notify.defaults import DEFAULT_TEMPLATES

    MessageTemplate = apps.get_model("notify", "MessageTemplate")
    for event, channel, subject, body in DEFAULT_TEMPLATES:
        MessageTemplate.objects.get_or_create(event=event, channel=channel,
                                              defaults={"subject": subject, "body": body,
                                                        "updated_by": "setup"})


class Migration(migrations.Migration):
    dependencies = [("notify", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
