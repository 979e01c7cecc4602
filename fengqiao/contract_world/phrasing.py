"""Turning a situation into spoken Chinese: slots, fillers, Hengyang dialect, ASR slips, operator turns.

A call is assembled from the caller's opening, the operator's questions, details, an ask, advice and a
closing. Each caller turn then passes through the speaker's habits: filler words, dialect words (衡阳话 is a
Xiang dialect: 么子, 冇得, 晓得, 伢子, 蛮), speech-recognition slips (homophones such as 调节 for 调解),
and for some calls no punctuation at all (raw ASR output). Together with the many paraphrases in the banks
this gives thousands of different texts per situation.
"""
from __future__ import annotations

import math
import random

from . import people

FILLERS = ("那个，", "就是，", "嗯，", "哎，", "喂，", "我跟你讲，", "是这样的，", "你听我讲，", "呃，", "那个那个，", "就是讲，")
TAILS = ("啊", "呢", "嘛", "咯", "哦", "啰", "")
DIALECT = (("什么", "么子"), ("没有", "冇得"), ("不知道", "不晓得"), ("知道", "晓得"), ("怎么办", "么样搞"),
           ("怎么", "么样"), ("这个", "咯个"), ("很", "蛮"), ("小孩", "伢子"), ("现在", "而今"), ("吃饭", "恰饭"),
           ("一点", "一滴子"), ("没", "冇"))
SLIPS = (("调解", "调节"), ("已经", "以经"), ("应该", "因该"), ("赔偿", "陪偿"), ("仲裁", "中裁"), ("拖欠", "拖久"),
         ("物业", "无业"), ("宅基地", "宅急地"), ("律师", "律司"), ("起诉", "起述"), ("协议", "协意"), ("再", "在"),
         ("派出所", "派出锁"), ("账", "帐"), ("抚养", "扶养"), ("补偿", "补尝"), ("工资", "工姿"), ("合同", "和同"))
MONTHS = ("两个月", "三个多月", "半年", "大半年", "四五个月", "一年多", "快一年", "好几个月")
YEARS = ("两年多", "三四年", "五六年", "十几年", "好多年", "七八年")
RELS = ("我爸", "我妈", "我老公", "我老婆", "我儿子", "我女儿", "我哥", "我家老人", "我岳父", "我婆婆")
WHO = {"劳动争议": ("老板", "包工头", "工头", "公司"), "婚姻家庭": ("我老公", "我老婆", "前夫", "我弟弟", "我婆婆"),
       "邻里": ("隔壁那家", "楼上", "对门", "邻居老王"), "损害赔偿": ("对方", "那个司机", "他家", "肇事的")}
WHO_DEFAULT = ("对方", "他们", "那家人", "老板")
CO_TAIL = ("建筑劳务有限公司", "建设工程公司", "电子厂", "鞋业有限公司", "物流公司", "装饰公司", "机械厂", "食品有限公司")

GREET = {"12348": ("您好，12348公共法律服务热线，请讲。", "您好，这里是12348法律服务热线，工号{op}为您服务，请问有什么可以帮您？",
                   "你好，法律服务热线，请问您要咨询什么问题？", "您好，12348，请讲。"),
         "12345": ("您好，12345政务服务便民热线，请讲。", "您好，12345，工号{op}，请问有什么可以帮您？",
                   "您好，市民热线，请问您要反映什么问题？")}
ASK_PLACE = ("您是哪个乡镇的？", "请问事情发生在哪里？", "您说的是哪个地方？具体地址讲一下。", "您现在是在哪个县区？")
ASK_MORE = ("这个事情多久了？", "对方是什么人？", "您手上有没有什么证据？", "您具体想怎么解决？", "您之前有没有找过村里或者社区？",
            "嗯，您慢慢讲。", "好的，还有呢？")
RECORD = ("好的，我这边帮您记录一下。", "您的联系电话是多少？", "您贵姓？", "需要登记一下您的身份信息。")
CLOSE_OP = ("好的，感谢您的来电，再见。", "我们会在三个工作日内给您回复，请保持电话畅通。", "还有其他问题吗？没有的话先挂了。",
            "好的，您的诉求我们已经记录，会转给相关部门处理。")
CLOSE_CALLER = ("好，谢谢你啊。", "那就麻烦你们了。", "行吧，我再等等。", "你们上次也是这么讲的。", "嗯嗯好的。", "好好好，晓得了。",
                "那我明天再去问问。", "要得，谢谢。")
CLOSE_ANGRY = ("你们上次也是这么讲的。", "每次都是这句话。", "算了，讲了也冇用。", "那我等你们回话，冇得回话我还打。")
CALM = ("您先别激动，有问题我们按程序来解决。", "请您一定冷静，千万不要做过激的事情。", "您反映的情况我们马上报给当地司法所和派出所。",
        "这个事我们会跟进的，请您相信政府。", "您讲的我都记下来了，会加急转办。")


class Speech:
    """One caller's habits for one call."""

    def __init__(self, rng: random.Random, dialect: float, slip: float, raw_asr: float):
        self.rng = rng
        self.dialect = rng.random() < dialect
        self.slips = rng.random() < slip
        self.raw = rng.random() < raw_asr

    def say(self, text: str) -> str:
        rng = self.rng
        if rng.random() < 0.45:
            text = rng.choice(FILLERS) + text
        if self.dialect:
            for a, b in DIALECT:
                if a in text and rng.random() < 0.7:
                    text = text.replace(a, b)
        if self.slips and rng.random() < 0.5:
            a, b = rng.choice(SLIPS)
            if a in text:
                text = text.replace(a, b, 1)
        if rng.random() < 0.25:
            text = text.rstrip("。！？") + rng.choice(TAILS) + rng.choice(("。", "。", "。", "！", "…", ""))
        elif text and text[-1] not in "。！？…":
            text += "。"
        if self.raw:
            for p in "，。！？…":
                text = text.replace(p, " ")
            text = text.strip()
        return text


class _Slots(dict):
    """Slot values made only when a template asks for them (most calls use two or three of the eight)."""

    def __init__(self, rng: random.Random, dtype: str, amount: tuple[float, float], fixed: dict, n: int | None):
        super().__init__(fixed)
        self.rng, self.dtype, self.amount, self.n = rng, dtype, amount, n

    def __missing__(self, key: str):
        rng = self.rng
        if key in ("amt", "_yuan"):
            lo, hi = self.amount
            yuan = max(100.0, rng.uniform(lo, hi) if hi < 5000 else log_uniform(rng, lo, hi, 2.0))
            self["_yuan"], self["amt"] = yuan, people.spoken_money(rng, yuan)
            return self[key]
        if key == "months":
            v = rng.choice(MONTHS)
        elif key == "years":
            v = rng.choice(YEARS)
        elif key == "n":
            v = people.spoken_count(rng, self.n if self.n is not None else rng.randint(3, 40))
        elif key == "who":
            v = rng.choice(WHO.get(self.dtype, WHO_DEFAULT))
        elif key == "co":
            v = place_morpheme(rng) + rng.choice(CO_TAIL)
        elif key == "rel":
            v = rng.choice(RELS)
        elif key == "times":
            v = people.cn_int(rng.randint(3, 9))
        else:
            raise KeyError(key)
        self[key] = v
        return v


def context(rng: random.Random, dtype: str, amount: tuple[float, float], place: str, co: str | None = None,
            thing: str = "", n: int | None = None) -> dict:
    fixed = {"place": place, "thing": thing}
    if co:
        fixed["co"] = co
    return _Slots(rng, dtype, amount, fixed, n)


def log_uniform(rng: random.Random, lo: float, hi: float, least_exponent: float) -> float:
    """A sum of money from lo (at least 10 ** least_exponent) to hi, uniform in its logarithm: many small, few large."""
    return 10 ** rng.uniform(max(least_exponent, math.log10(max(lo, 1.0))), math.log10(max(hi, 1.0)))


_MORPH = "金银鑫华盛宏泰兴恒达顺丰隆祥瑞博远鸿嘉腾新湘衡雁岳"


def place_morpheme(rng: random.Random) -> str:
    return rng.choice(_MORPH) + rng.choice(_MORPH)


def fill(tpl: str, ctx: dict) -> str:
    try:
        return tpl.format_map(ctx)
    except (KeyError, IndexError, ValueError):
        return tpl


def personal_bits(rng: random.Random, who: people.Person, ctx_wage: bool) -> tuple[str, str]:
    """An operator question that makes the caller give personal data, and the answer."""
    r = rng.random()
    if r < 0.45:
        return "您的联系电话是多少？", rng.choice(("我电话是{p}", "{p}，就是这个号", "打{p}就可以")).format(p=_spoken_phone(rng, who.phone))
    if r < 0.75:
        return "您贵姓？", rng.choice(("我叫{n}", "姓{s}，{n}", "{n}，耳东陈的陈" if who.name[0] == "陈" else "{n}")).format(
            n=who.name, s=who.name[0])
    if r < 0.92:
        return "需要登记一下您的身份信息。", "身份证号是" + people.id_number(rng, who)
    if ctx_wage:
        return "工资是打到哪张卡上的？", "我的工资卡是" + people.bank_card(rng)
    return "您的联系电话是多少？", who.phone


def _spoken_phone(rng: random.Random, p: str) -> str:
    if rng.random() < 0.7 or not p[0] == "1":
        return p
    return f"{p[:3]} {p[3:7]} {p[7:]}"  # read out in groups


def operator_greeting(rng: random.Random, line: str) -> str:
    return rng.choice(GREET[line]).format(op=rng.randint(1001, 1299))


def address_answer(rng: random.Random, county: str, township: str, village: str | None) -> str:
    v = village or ""
    k = rng.randrange(5)
    if k == 0:
        return f"{township}{v}的"
    if k == 1:
        return f"就在{township}这边"
    if k == 2:
        return f"{county}{township}{v}"
    if k == 3:
        return f"我们是{township}{v}{rng.randint(1, 12)}" + ("栋的" if v.endswith("社区") else "组的")
    return f"{township}，{v}那里"


# --- personal data in forms that defeat plain masking rules (a few percent of calls and orders) ----------

_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_READ_OUT = str.maketrans("0123456789", "洞幺二三四五六七八九")  # as a caller spells a number: 幺 for 1, 洞 for 0
_KIN = ("我老婆", "我男人", "我屋里老倌", "我爸", "我娘", "老板", "包工头", "房东", "我女儿")
_MAIL_HOSTS = ("qq.com", "163.com", "126.com", "hotmail.com")
_GIVEN = "建国军伟强明华志海秀芳丽英玉兰梅娟霞"
MASKING_FORMS = ("full_width", "ideographic_space", "comma_groups", "read_out", "id_in_groups", "extension", "email",
                 "compound_surname", "kin_then_name")


def masking_form(rng: random.Random, who: people.Person) -> tuple[str, str, str, str]:
    """A caller's words with personal data in a form plain rules miss: ``(form, words, value, digits)``.

    ``value`` must not survive masking (for a name after a kin word: the kin word and the name);
    ``digits`` is the number as a normaliser would leave it ("" for names and mailboxes).
    """
    form = rng.choice(MASKING_FORMS)
    mobile = people.phone(rng)
    while not mobile.startswith("1"):
        mobile = people.phone(rng)
    if form == "full_width":
        value = mobile.translate(_FULL_WIDTH)
        return form, f"手机{value}", value, mobile
    if form == "ideographic_space":
        value = "\u3000".join((mobile[:3], mobile[3:7], mobile[7:]))
        return form, f"电话是{value}，你记一下", value, mobile
    if form == "comma_groups":
        value = "，".join((mobile[:3], mobile[3:7], mobile[7:]))
        return form, f"我号码{value}", value, mobile
    if form == "read_out":
        value = mobile.translate(_READ_OUT)
        return form, f"号码是{value}", value, mobile
    if form == "id_in_groups":
        number = people.id_number(rng, who)
        value = " ".join((number[:6], number[6:10], number[10:14], number[14:]))
        return form, f"身份证{value}", value, number
    if form == "extension":
        number = f"0734-{rng.randint(2, 8)}{rng.randint(0, 999999):06d}"
        value = f"{number}转{rng.randint(10, 9999)}"
        return form, f"白天打我单位{value}", value, number.replace("-", "")
    if form == "email":
        value = f"{rng.randint(100000, 9999999999)}@{rng.choice(_MAIL_HOSTS)}"
        return form, f"材料发我邮箱{value}就行", value, ""
    if form == "compound_surname":
        value = rng.choice(("欧阳", "司马", "上官", "诸葛", "慕容")) + rng.choice(_GIVEN) + rng.choice(_GIVEN)
        return form, rng.choice((f"我叫{value}", f"联系人：{value}，", f"登记{value}反映的")), value, ""
    full = who.name if len(who.name) == 3 else people.name(rng)[0]
    value = rng.choice(_KIN) + full
    return form, value + rng.choice(("讲的，冇得错", "一直不接电话", "也晓得这个事")), value, ""


class MaskingForms:
    """Plants :func:`masking_form` words in a few percent of calls and orders, from a stream of its own (so
    that the rest of the world is drawn as before), and logs them for truth/masking_forms.csv. A quarter of
    the calls that carry one are exported as ASCII-only JSON (\\uXXXX escapes)."""

    RATES = {"hotline": 0.025, "workorders": 0.02}
    CAP = 500  # logged per form

    def __init__(self, seed: int):
        self.rng = random.Random(f"contract-masking-forms-{seed}")
        self.log: list[tuple[str, str, str, str]] = []
        self._logged: dict[str, int] = {}
        self._last: str | None = None  # the form logged by the last call of words(), if any

    def words(self, feed: str, who: people.Person) -> str | None:
        if self.rng.random() >= self.RATES[feed]:
            return None
        form, words, value, digits = masking_form(self.rng, who)
        self._last = None
        if self._logged.get(form, 0) < self.CAP:
            self._logged[form] = self._logged.get(form, 0) + 1
            self.log.append((feed, form, value, digits))
            self._last = form
        return words

    def forget_last(self) -> None:
        """The record that carried the last words will not be delivered in this drop (exported after its last
        day): take them off the log, so that truth lists only planted values a drop holds."""
        if self._last is not None:
            self._logged[self._last] -= 1
            self.log.pop()
            self._last = None

    def ascii_export(self) -> bool:
        return self.rng.random() < 0.25
