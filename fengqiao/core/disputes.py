"""The 15 mediation dispute types and how the other systems' words map onto them.

The mediation registry uses the 15 types directly. Work orders carry the order system's own
``大类/小类`` category and hotline calls an operator's free-text ``topic``; both are mapped here.
The mapping table is data (``CATEGORY_TO_TYPE``) so that a province can extend it; keyword rules
catch the words an operator actually types.
"""
from __future__ import annotations

# (Chinese label used by the registry, ASCII slug used in column names)
DISPUTE_TYPES: list[tuple[str, str]] = [
    ("婚姻家庭", "marriage_family"),
    ("邻里", "neighbour"),
    ("房屋宅基地", "housing_homestead"),
    ("合同", "contract"),
    ("生产经营", "business"),
    ("损害赔偿", "damages"),
    ("山林土地", "forest_land"),
    ("征地拆迁", "land_requisition"),
    ("环境污染", "pollution"),
    ("劳动争议", "labour"),
    ("消费", "consumer"),
    ("医疗", "medical"),
    ("道路交通事故", "traffic"),
    ("物业", "property_mgmt"),
    ("其他", "other"),
]
TYPE_LABELS: list[str] = [label for label, _ in DISPUTE_TYPES]
TYPE_SLUGS: dict[str, str] = dict(DISPUTE_TYPES)
SLUG_TO_LABEL: dict[str, str] = {slug: label for label, slug in DISPUTE_TYPES}

# Work-order categories (大类/小类) as the unified order system writes them -> mediation type.
CATEGORY_TO_TYPE: dict[str, str] = {
    "婚姻家庭/离婚纠纷": "婚姻家庭",
    "婚姻家庭/赡养抚养": "婚姻家庭",
    "婚姻家庭/家庭矛盾": "婚姻家庭",
    "城乡建设/邻里纠纷": "邻里",
    "社会治安/邻里纠纷": "邻里",
    "城乡建设/宅基地": "房屋宅基地",
    "城乡建设/房屋质量": "房屋宅基地",
    "市场监管/合同纠纷": "合同",
    "经济纠纷/借贷纠纷": "合同",
    "经济纠纷/经营纠纷": "生产经营",
    "农业农村/生产经营": "生产经营",
    "社会治安/人身损害": "损害赔偿",
    "经济纠纷/财产损害": "损害赔偿",
    "农业农村/土地承包": "山林土地",
    "自然资源/林地权属": "山林土地",
    "自然资源/征地补偿": "征地拆迁",
    "城乡建设/拆迁安置": "征地拆迁",
    "生态环境/噪声污染": "环境污染",
    "生态环境/水气污染": "环境污染",
    "劳动社保/欠薪": "劳动争议",
    "劳动社保/劳动合同": "劳动争议",
    "劳动社保/工伤": "劳动争议",
    "市场监管/消费维权": "消费",
    "市场监管/预付卡": "消费",
    "卫生健康/医疗纠纷": "医疗",
    "交通运输/交通事故": "道路交通事故",
    "城乡建设/物业管理": "物业",
    "城乡建设/物业收费": "物业",
    "其他/其他": "其他",
}

# Categories and topic words that mark unpaid wages of migrant workers (欠薪), a flag inside 劳动争议.
WAGE_ARREARS_CATEGORIES = {"劳动社保/欠薪"}
WAGE_ARREARS_WORDS = ("欠薪", "拖欠工资", "农民工工资", "讨薪", "工钱", "工资没发", "欠工资")

# Keyword rules for free text (hotline topic, order summary): first match wins, so the more
# specific words come first. Used when the category table has no entry.
KEYWORD_RULES: list[tuple[tuple[str, ...], str]] = [
    (WAGE_ARREARS_WORDS + ("劳动合同", "工伤", "辞退", "加班费", "社保"), "劳动争议"),
    (("离婚", "抚养", "赡养", "家暴", "彩礼", "婚姻", "夫妻"), "婚姻家庭"),
    (("宅基地", "房屋", "盖房", "建房", "房产"), "房屋宅基地"),
    (("征地", "拆迁", "补偿款", "安置"), "征地拆迁"),
    (("物业", "业主", "小区", "停车费", "电梯"), "物业"),
    (("交通事故", "车祸", "撞", "交警"), "道路交通事故"),
    (("医疗", "医院", "手术", "医生", "医患"), "医疗"),
    (("污染", "噪音", "噪声", "排污", "异味", "粉尘"), "环境污染"),
    (("山林", "土地承包", "承包地", "林地", "地界"), "山林土地"),
    (("消费", "退款", "预付卡", "商家", "网购", "假货"), "消费"),
    (("合同", "借款", "欠款", "借钱", "违约"), "合同"),
    (("经营", "合伙", "生意", "养殖", "承包经营"), "生产经营"),
    (("赔偿", "打伤", "损坏", "受伤"), "损害赔偿"),
    (("邻居", "邻里", "漏水", "相邻", "院墙"), "邻里"),
]


def type_from_category(category: str | None) -> str | None:
    """Mediation type for a work-order category, or None when the table does not know it."""
    if not category:
        return None
    return CATEGORY_TO_TYPE.get(category.strip())


def keyword_type(text: str | None) -> str | None:
    """The first matching keyword rule's type, or None (silver's ``dispute_type_from_hits`` in plain Python)."""
    if text:
        for words, label in KEYWORD_RULES:
            if any(w in text for w in words):
                return label
    return None


def type_from_text(text: str | None) -> str:
    """Mediation type guessed from free text by keyword rules; 其他 when nothing matches.

    The fallback when no text model is registered (models.text_models learns the same from labelled text).
    """
    return keyword_type(text) or "其他"


def is_wage_arrears(category: str | None, text: str | None) -> bool:
    if category and category.strip() in WAGE_ARREARS_CATEGORIES:
        return True
    return bool(text) and any(w in text for w in WAGE_ARREARS_WORDS)
