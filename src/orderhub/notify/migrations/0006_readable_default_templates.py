"""The shipped message templates read better: no "待待确认" (the stage name already says 待),
deadlines in local time instead of a UTC ISO stamp, the stage left by its name. Rows an
administrator has edited are left as they are; rows still holding the old default get the new."""

from django.db import migrations

# (event, channel, old subject, old body, new subject, new body)
CHANGED = [
    ('order.created', '',
     '新订单 {{ order.number }} 待{{ stage_name }}',
     "### 新订单 {{ order.number }}\n客户：{{ order.customer }}\n当前环节：{{ stage_name }}（请尽快处理）\n要求交期：{{ order.required_date|date:'Y-m-d' }}\n{% if due_at %}本环节截止：{{ due_at|date:'Y-m-d H:i' }}\n{% endif %}",
     '新订单 {{ order.number }}：{{ stage_name }}',
     "### 新订单 {{ order.number }}\n客户：{{ order.customer }}\n当前环节：{{ stage_name }}（请尽快处理）\n要求交期：{{ order.required_date|date:'Y-m-d' }}\n{% if due_at %}本环节截止：{{ due_at|date:'Y-m-d H:i' }}\n{% endif %}"),
    ('stage.entered', '',
     '订单 {{ order.number }} 进入{{ stage_name }}',
     "### 订单 {{ order.number }} 已进入「{{ stage_name }}」\n客户：{{ order.customer }}\n{% if left_stage %}上一环节：{{ left_stage }}\n{% endif %}{% if due_at %}本环节截止：{{ due_at|date:'Y-m-d H:i' }}\n{% endif %}操作人：{{ actor }}\n",
     '订单 {{ order.number }} 进入{{ stage_name }}',
     "### 订单 {{ order.number }} 已进入「{{ stage_name }}」\n客户：{{ order.customer }}\n{% if left_stage %}上一环节：{{ left_stage_name|default:left_stage }}\n{% endif %}{% if due_at %}本环节截止：{{ due_at|date:'Y-m-d H:i' }}\n{% endif %}操作人：{{ actor }}\n"),
    ('stage.overdue', '',
     '【超期】订单 {{ number|default:order.number }} {{ stage_name }}',
     '### 【超期】订单 {{ number|default:order.number }}\n客户：{{ customer|default:order.customer }}\n环节：{{ stage_name }}，截止时间 {{ due_at }} 已过\n{{ message }}\n',
     '【超期】订单 {{ number|default:order.number }} {{ stage_name }}',
     "### 【超期】订单 {{ number|default:order.number }}\n客户：{{ customer|default:order.customer }}\n环节：{{ stage_name }}，截止时间 {{ due_at|date:'Y-m-d H:i'|default:due_at }} 已过\n{{ message }}\n"),
    ('escalation', '',
     '【升级】{{ title }}',
     '### 【升级提醒】订单 {{ number|default:order.number }}\n{{ message }}\n环节：{{ stage_name }}{% if due_at %}，截止 {{ due_at }}{% endif %}\n{% if ticket %}异常单：{{ ticket }}\n{% endif %}',
     '【升级】{{ title }}',
     "### 【升级提醒】订单 {{ number|default:order.number }}\n{{ message }}\n环节：{{ stage_name }}{% if due_at %}，截止 {{ due_at|date:'Y-m-d H:i'|default:due_at }}{% endif %}\n{% if ticket %}异常单：{{ ticket }}\n{% endif %}"),
]


def forwards(apps, schema_editor):
    MessageTemplate = apps.get_model("notify", "MessageTemplate")
    for event, channel, old_subject, old_body, subject, body in CHANGED:
        MessageTemplate.objects.filter(event=event, channel=channel, subject=old_subject, body=old_body) \
            .update(subject=subject, body=body)


def backwards(apps, schema_editor):
    MessageTemplate = apps.get_model("notify", "MessageTemplate")
    for event, channel, old_subject, old_body, subject, body in CHANGED:
        MessageTemplate.objects.filter(event=event, channel=channel, subject=subject, body=body) \
            .update(subject=old_subject, body=old_body)


class Migration(migrations.Migration):
    dependencies = [("notify", "0005_secrets_at_rest")]
    operations = [migrations.RunPython(forwards, backwards)]
