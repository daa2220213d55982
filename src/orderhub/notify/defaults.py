"""The message templates shipped as data (Chinese defaults; admins edit them on the settings
page). Templates are Django templates; they see the caller's context plus ``order`` (number,
customer, stage, due_at, required_date, total, currency, ...), ``event`` and ``severity``.
Channel '' is the template for every channel without one of its own. Keyed by the event
constants (``orders.events``, ``notify.events``); ``tests/notify`` checks every one is there."""

from orderhub.orders.events import (
    ESCALATION,
    ORDER_CHANGE_APPLIED,
    ORDER_CHANGE_REJECTED,
    ORDER_CHANGE_REQUESTED,
    ORDER_CREATED,
    ORDER_RESERVATION_EXPIRED,
    ORDER_SAFETY_STOCK_LOW,
    STAGE_ENTERED,
    STAGE_OVERDUE,
    TICKET_OPENED,
)

from .events import ORDERS_ENTERED, RULE_NOTIFY

DEFAULT_TEMPLATES = [
    (ORDER_CREATED, "", "新订单 {{ order.number }}：{{ stage_name }}",
     "### 新订单 {{ order.number }}\n"
     "客户：{{ order.customer }}\n"
     "当前环节：{{ stage_name }}（请尽快处理）\n"
     "要求交期：{{ order.required_date|date:'Y-m-d' }}\n"
     "{% if due_at %}本环节截止：{{ due_at|date:'Y-m-d H:i' }}\n{% endif %}"),
    (STAGE_ENTERED, "", "订单 {{ order.number }} 进入{{ stage_name }}",
     "### 订单 {{ order.number }} 已进入「{{ stage_name }}」\n"
     "客户：{{ order.customer }}\n"
     "{% if left_stage %}上一环节：{{ left_stage_name|default:left_stage }}\n{% endif %}"
     "{% if due_at %}本环节截止：{{ due_at|date:'Y-m-d H:i' }}\n{% endif %}"
     "操作人：{{ actor }}\n"),
    (STAGE_OVERDUE, "", "【超期】订单 {{ number|default:order.number }} {{ stage_name }}",
     "### 【超期】订单 {{ number|default:order.number }}\n"
     "客户：{{ customer|default:order.customer }}\n"
     "环节：{{ stage_name }}，截止时间 {{ due_at|date:'Y-m-d H:i'|default:due_at }} 已过\n"
     "{{ message }}\n"),
    (ESCALATION, "", "【升级】{{ title }}",
     "### 【升级提醒】订单 {{ number|default:order.number }}\n"
     "{{ message }}\n"
     "环节：{{ stage_name }}{% if due_at %}，截止 {{ due_at|date:'Y-m-d H:i'|default:due_at }}{% endif %}\n"
     "{% if ticket %}异常单：{{ ticket }}\n{% endif %}"),
    (RULE_NOTIFY, "", "{{ title|default:'规则提醒' }}：订单 {{ order.number }}",
     "### {{ title|default:'规则提醒' }}\n"
     "订单：{{ order.number }}（{{ order.customer }}）\n"
     "{{ message }}\n"),
    (ORDER_RESERVATION_EXPIRED, "", "订单 {{ order.number }} 的库存保留已到期释放",
     "### 订单 {{ order.number }} 库存保留到期\n"
     "客户：{{ order.customer }}\n"
     "当前环节：{{ stage_name }}\n"
     "{{ message }}\n"),
    (ORDER_SAFETY_STOCK_LOW, "", "【低于安全库存】订单 {{ order.number }} 所需物料",
     "### 订单 {{ order.number }} 所需物料低于安全库存\n"
     "客户：{{ order.customer }}\n"
     "当前环节：{{ stage_name }}\n"
     "{{ message }}\n"),
    (TICKET_OPENED, "", "异常单：{{ ticket|default:title }}（订单 {{ order.number }}）",
     "### 新异常单\n"
     "订单：{{ order.number }}（{{ order.customer }}）\n"
     "异常：{{ ticket|default:title }}\n"
     "{{ message }}\n"),
    (ORDER_CHANGE_REQUESTED, "", "【变更审批中】订单 {{ order.number }}",
     "### 订单 {{ order.number }} 有变更申请待审批\n"
     "客户：{{ order.customer }}\n"
     "当前环节：{{ stage_name }}（审批完成前订单冻结，请暂停相关工作）\n"
     "申请人：{{ actor }}\n"
     "{% if reason %}原因：{{ reason }}\n{% endif %}"),
    (ORDER_CHANGE_APPLIED, "", "订单 {{ order.number }} 变更已批准生效",
     "### 订单 {{ order.number }} 的变更已批准，现为第 {{ version }} 版\n"
     "客户：{{ order.customer }}\n"
     "当前环节：{{ stage_name }}（请按新版本执行）\n"
     "批准人：{{ actor }}\n"),
    (ORDER_CHANGE_REJECTED, "", "订单 {{ order.number }} 的变更申请被驳回",
     "### 您对订单 {{ order.number }} 的变更申请被驳回\n"
     "驳回人：{{ actor }}\n"
     "理由：{{ comment }}\n"),
    (ORDERS_ENTERED, "", "{% if created %}新订单{% else %}订单{% endif %} {{ count }} 张进入{{ stage_name }}",
     "### {{ count }} 张{% if created %}新{% endif %}订单进入「{{ stage_name }}」\n"
     "订单：{{ numbers|join:'、' }}{% if more %} 等，另有 {{ more }} 张{% endif %}\n"
     "{% if left_stage %}上一环节：{{ left_stage_name|default:left_stage }}\n{% endif %}"
     "{% if due_at %}最早截止：{{ due_at|date:'Y-m-d H:i' }}\n{% endif %}"
     "操作人：{{ actor }}\n"),
]
