"""The problem types a new installation starts with (code, name, responsible role): a start the
administrator edits, seeded by migration 0001 and again by ``problem_types_seed`` when the list
is empty (a test database emptied between tests, a demo load)."""

PROBLEM_TYPES = [
    ("size", "尺寸超差", "qc"), ("material", "来料不良", "purchaser"), ("machine", "设备故障", "production"),
    ("shortage", "缺料", "purchaser"), ("drawing", "图纸错误", "designer"), ("packing", "包装错误", "warehouse"),
    ("surface", "外观不良", "qc"), ("process", "工艺问题", "production"), ("other", "其他", "production"),
]
