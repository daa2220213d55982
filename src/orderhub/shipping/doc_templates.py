"""The shipped bodies of the printed documents (Django templates over the variables that
``documents`` passes: ``company``, ``doc``, ``order``, ``lines``, ``totals`` and, for a
shipment's documents, ``shipment``). An admin's version (``DocumentTemplate``) replaces one."""

_ORDER_HEAD = """<table class="info"><tr><td>客户：{{ order.customer }}（{{ order.customer_code }}）</td><td>订单号：{{ order.number }}</td></tr>
<tr><td>收货人：{{ order.ship_to_contact }} {{ order.ship_to_phone }}</td><td>下单日期：{{ order.created_date }}</td></tr>
<tr><td>收货地址：{{ order.ship_to_address }}</td><td>要求交期：{{ order.required_date }}{% if order.promised_date %}　承诺交期：{{ order.promised_date }}{% endif %}</td></tr></table>
"""

_PRICED_LINES = """<table class="lines"><colgroup><col class="c-no"><col class="c-item"><col class="c-qty"><col class="c-money"><col class="c-money"></colgroup>
<thead><tr><th>序号</th><th>产品</th><th class="r">数量</th><th class="r">单价</th><th class="r">金额</th></tr></thead>
<tbody>{% for l in lines %}<tr><td>{{ l.no }}</td><td>{{ l.sku }} {{ l.name }}</td><td class="r">{{ l.qty }} {{ l.unit }}</td><td class="r">{{ l.unit_price }}</td><td class="r">{{ l.amount }}</td></tr>{% endfor %}</tbody>
<tfoot><tr><td colspan="4" class="r">合计（{{ order.currency }}）</td><td class="r">{{ totals.amount }}</td></tr></tfoot></table>
"""

_SHIPMENT_HEAD = """<table class="info"><tr><td>客户：{{ order.customer }}（{{ order.customer_code }}）</td><td>发货单号：{{ shipment.number }}</td></tr>
<tr><td>收货人：{{ shipment.ship_to_contact }} {{ shipment.ship_to_phone }}</td><td>订单号：{{ order.number }}</td></tr>
<tr><td>收货地址：{{ shipment.ship_to_address }}</td><td>承运商：{{ shipment.carrier }}　运单号：{{ shipment.waybill }}</td></tr></table>
"""

DEFAULTS: dict[str, str] = {
    "confirmation": (
        "<h1>{{ doc.title }}</h1>\n" + _ORDER_HEAD + _PRICED_LINES
        + "{% if order.remarks %}<p>备注：{{ order.remarks }}</p>{% endif %}\n"
        "<p>请核对以上内容，确认无误后签字盖章回传。</p>\n"
        "<table class=\"sign\"><tr><td>供方（盖章）：{{ company.name }}</td><td>需方确认（签字盖章）：</td></tr></table>\n"),
    "quotation": (
        "<h1>{{ doc.title }}</h1>\n" + _ORDER_HEAD + _PRICED_LINES
        + "<p>报价有效期：自 {{ doc.date }} 起 30 天。价格含税，运费另计。</p>\n"
        "<table class=\"sign\"><tr><td>报价单位：{{ company.name }}</td><td>日期：{{ doc.date }}</td></tr></table>\n"),
    "delivery-note": (
        "<h1>{{ doc.title }}</h1>\n" + _SHIPMENT_HEAD
        + "<table class=\"lines\"><colgroup><col class=\"c-no\"><col class=\"c-item\"><col class=\"c-qty\"><col class=\"c-note\"></colgroup>\n"
        "<thead><tr><th>序号</th><th>产品</th><th class=\"r\">数量</th><th>备注</th></tr></thead>\n"
        "<tbody>{% for l in lines %}<tr><td>{{ l.no }}</td><td>{{ l.sku }} {{ l.name }}</td><td class=\"r\">{{ l.qty }} {{ l.unit }}</td><td>{{ l.remarks }}</td></tr>{% endfor %}</tbody>\n"
        "<tfoot><tr><td colspan=\"2\" class=\"r\">合计</td><td class=\"r\">{{ totals.qty }}</td><td>共 {{ totals.lines }} 行，{{ shipment.packages }} 件</td></tr></tfoot></table>\n"
        "<table class=\"sign\"><tr><td>发货人：</td><td>收货人签收：</td><td>签收日期：</td></tr></table>\n"),
    "packing-list": (
        "<h1>{{ doc.title }}</h1>\n" + _SHIPMENT_HEAD
        + "<p>件数：{{ shipment.packages }}　毛重：{% if shipment.weight_kg %}{{ shipment.weight_kg }} 千克{% else %}—{% endif %}</p>\n"
        "<table class=\"lines\"><colgroup><col class=\"c-no\"><col class=\"c-sku\"><col class=\"c-name\"><col class=\"c-qty\"></colgroup>\n"
        "<thead><tr><th>序号</th><th>产品编码</th><th>产品名称</th><th class=\"r\">数量</th></tr></thead>\n"
        "<tbody>{% for l in lines %}<tr><td>{{ l.no }}</td><td>{{ l.sku }}</td><td>{{ l.name }}</td><td class=\"r\">{{ l.qty }} {{ l.unit }}</td></tr>{% endfor %}</tbody></table>\n"),
}
