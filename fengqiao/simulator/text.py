"""Chinese text for simulated records: topics, transcripts, summaries, and personal data hidden in them.

All functions take a ``random.Random`` (fast per-record draws; numpy is used for the bulk counts); the
people and their numbers come from ``people.py``. Topics use words that
``fengqiao.core.disputes.KEYWORD_RULES`` maps to the intended type, except the deliberately vague ones,
so that the pipeline's mapping has something real to do.
"""
from __future__ import annotations

import random

from fengqiao.core.disputes import CATEGORY_TO_TYPE, TYPE_LABELS

from .people import AREA_CODES, GIVEN, SURNAMES, bank_card, id_number, mobile, person_name, phone, street_address

# Per type: (topics the operator types, what the caller says, the operator's advice, mediation brief).
# Topic words must hit the intended KEYWORD_RULES entry (earlier rules win).
TYPE_TEXT: dict[str, dict[str, tuple[str, ...]]] = {
    "婚姻家庭": dict(
        topic=("离婚纠纷", "离婚财产分割", "赡养老人", "抚养费", "彩礼返还", "家暴求助", "夫妻矛盾", "婚姻咨询"),
        say=("我和爱人闹离婚，想问问财产怎么分", "我父亲年纪大了，几个兄弟都不管赡养", "孩子抚养费对方一直不给",
             "订婚给了十几万彩礼，现在女方悔婚不退", "我丈夫喝了酒就打人，我不敢回家", "婆媳天天吵架，日子过不下去了"),
        brief=("双方因离婚财产分割发生纠纷", "子女之间因老人赡养问题发生争执", "因抚养费给付问题发生纠纷",
               "双方因彩礼返还发生纠纷", "夫妻感情不和引发家庭矛盾")),
    "邻里": dict(
        topic=("邻里纠纷", "邻居漏水", "相邻通行", "院墙纠纷", "邻居吵架"),
        say=("楼上邻居家漏水，把我家天花板泡坏了", "邻居把出村的路堵了，车过不去", "邻居垒院墙占了我家的地方",
             "邻居家养狗天天叫，说了也不听", "和邻居因为排水沟吵起来了"),
        brief=("因楼上漏水引发邻里纠纷", "双方因通行问题发生邻里矛盾", "因院墙界址发生邻里纠纷", "邻里之间因琐事发生口角")),
    "房屋宅基地": dict(
        topic=("宅基地纠纷", "房屋买卖", "盖房纠纷", "房产继承", "建房挡光"),
        say=("我家宅基地被邻村的人占了", "前几年买的房子，卖家现在不给过户", "邻居盖房子超高挡了我家采光",
             "老人去世了，兄妹几个为房产分割闹翻了"),
        brief=("双方因宅基地使用权发生纠纷", "因房屋买卖过户发生纠纷", "因建房挡光发生纠纷", "因房产继承发生纠纷")),
    "合同": dict(
        topic=("借款纠纷", "合同违约", "欠款不还", "借钱不还", "租赁合同"),
        say=("朋友借了我五万块钱，到期不还", "签了装修合同，对方干了一半就跑了", "对方违约不交货，定金也不退",
             "租的门面房东要提前收回，合同还没到期"),
        brief=("双方因民间借贷发生纠纷", "因合同违约发生纠纷", "因欠款不还发生纠纷")),
    "生产经营": dict(
        topic=("合伙经营", "生意纠纷", "养殖纠纷", "承包经营"),
        say=("和别人合伙做生意，现在账算不清", "我承包的鱼塘被人放了药", "合伙开的饭店赔了，对方不认账"),
        brief=("双方因合伙经营收益分配发生纠纷", "因养殖经营发生纠纷")),
    "损害赔偿": dict(
        topic=("人身损害赔偿", "财物损坏", "打伤赔偿", "受伤赔偿"),
        say=("我被人打伤了，住了一个星期院，对方不赔", "孩子在别人家玩受伤了", "我的三轮车被人弄坏了不给赔"),
        brief=("因人身损害赔偿发生纠纷", "因财物损坏赔偿发生纠纷")),
    "山林土地": dict(
        topic=("土地承包纠纷", "承包地调整", "林地权属", "地界纠纷", "山林纠纷"),
        say=("村里重新分地，我家承包地少了两亩", "我家的林地被邻村的人砍了树", "两家地界说不清，天天吵"),
        brief=("双方因土地承包经营权发生纠纷", "因林地权属发生纠纷", "因地界不清发生纠纷")),
    "征地拆迁": dict(
        topic=("征地补偿", "拆迁安置", "补偿款纠纷", "拆迁补偿"),
        say=("村里的地被征了，补偿款一直没发下来", "拆迁安置房拖了三年还没交", "拆迁补偿标准太低，我们不同意",
             "征地的时候说好的安置没兑现"),
        brief=("村民因征地补偿款发放发生纠纷", "因拆迁安置问题发生纠纷", "因拆迁补偿标准发生纠纷")),
    "环境污染": dict(
        topic=("噪音扰民", "排污问题", "厂子异味", "粉尘污染", "污染投诉"),
        say=("村边的厂子晚上排污，河水都黑了", "工地晚上施工噪音太大睡不着", "养殖场的异味熏得人没法开窗",
             "搅拌站粉尘太大，庄稼都落满了灰"),
        brief=("因企业排污引发纠纷", "因施工噪音扰民发生纠纷", "因养殖异味发生纠纷")),
    "劳动争议": dict(
        topic=("欠薪", "拖欠工资", "农民工工资", "讨薪", "劳动合同", "工伤认定", "辞退赔偿", "加班费"),
        say=("我在工地干了半年，工钱一分没给", "老板拖欠工资三个月了，找不到人", "公司不签劳动合同就把我辞退了",
             "我在厂里干活受了伤，老板不给认工伤", "年底了包工头还欠着我们的工资没发"),
        brief=("农民工因工程款拖欠工资发生纠纷", "因拖欠工资发生劳动争议", "因解除劳动合同发生争议", "因工伤赔偿发生劳动争议")),
    "消费": dict(
        topic=("预付卡退款", "消费维权", "网购退款", "商家不退款", "买到假货"),
        say=("健身房的预付卡办了，现在店关门了", "网购的东西有质量问题，商家不给退", "买的电动车没骑几天就坏了",
             "美容店办卡充了五千，现在人跑了"),
        brief=("因预付卡退费发生消费纠纷", "因商品质量问题发生消费纠纷")),
    "医疗": dict(
        topic=("医疗纠纷", "医疗事故", "手术纠纷", "医患矛盾"),
        say=("我母亲在医院做手术后出了问题", "医生误诊耽误了治疗", "在诊所打完针孩子就不好了"),
        brief=("患者家属与医院因诊疗结果发生纠纷", "因手术后遗症发生医疗纠纷")),
    "道路交通事故": dict(
        topic=("交通事故赔偿", "车祸理赔", "交通事故", "被车撞了"),
        say=("我骑电动车被小轿车撞了，对方不赔", "出了车祸，保险公司拖着不理赔", "交通事故责任认定我不服"),
        brief=("双方因道路交通事故赔偿发生纠纷", "因交通事故责任认定发生纠纷")),
    "物业": dict(
        topic=("物业纠纷", "物业收费", "小区停车费", "电梯故障", "业主维权"),
        say=("小区物业不管事，还要涨物业费", "小区电梯坏了一个月没人修", "物业把小区停车费涨了一倍",
             "开发商和物业勾结，公共收益不公开"),
        brief=("业主与物业公司因收费问题发生纠纷", "因小区电梯维修发生物业纠纷", "业主与物业因停车管理发生纠纷")),
    "其他": dict(
        topic=("法律咨询", "公证咨询", "法律援助申请", "其他"),
        say=("我想问问怎么申请法律援助", "想咨询一下公证需要带什么材料", "我有个事不知道该找哪个部门"),
        brief=("其他民间纠纷", "因琐事发生口角")),
}
VAGUE_TOPICS = ("咨询", "求助", "纠纷", "问题反映", "转办", "投诉", None)
MEDIA_TOPICS = {"消费": ("预付卡跑路", "健身房预付卡退款", "预付卡消费"),
                "医疗": ("医院收费咨询", "医疗费报销", "医疗纠纷咨询")}
ADVICE = ("建议您先保留好相关证据，可以申请人民调解。", "您可以向当地司法所申请调解，也可以到法律援助中心申请援助。",
          "这种情况建议先协商，协商不成可以向法院起诉。", "我们会把您反映的情况转给相关部门处理。")
THREAT_SAY = ("再不解决我就跟他同归于尽", "逼急了我就拼命", "这事我跟他没完", "再这样下去要出人命了",
              "我都不想活了", "他们不给钱，我们就鱼死网破", "我一定要报复")
COLLECTIVE_SAY = ("我们几十个人准备集体上访", "大家商量好了去堵路", "我们要拉横幅找媒体曝光", "村里人联名准备一起去政府",
                  "明天大家去政府门口静坐", "工友们说要去围堵老板的公司", "不解决我们就去上访")
# types whose escalation tends to be collective rather than personal
COLLECTIVE_TYPES = {"劳动争议", "征地拆迁", "物业", "环境污染", "山林土地"}


def escalation_phrase(r: random.Random, dtype: str) -> str:
    collective = dtype in COLLECTIVE_TYPES and r.random() < 0.75
    return r.choice(COLLECTIVE_SAY if collective else THREAT_SAY)


def topic(r: random.Random, dtype: str, wage: bool) -> str | None:
    if r.random() < 0.12:
        return r.choice(VAGUE_TOPICS)
    if wage:
        return r.choice(("欠薪", "拖欠工资", "农民工工资", "讨薪", "工资没发"))
    return r.choice(TYPE_TEXT[dtype]["topic"])


def caller_says(r: random.Random, dtype: str, wage: bool) -> str:
    if wage:
        return r.choice(TYPE_TEXT["劳动争议"]["say"][:2] + TYPE_TEXT["劳动争议"]["say"][4:])
    return r.choice(TYPE_TEXT[dtype]["say"])


def transcript(r: random.Random, dtype: str, wage: bool, place: str, name: str | None, pii: dict,
               escalate: bool, short: bool = False, media_topic: str | None = None) -> list[dict]:
    """3-8 turns. ``pii`` holds optional 'phone', 'id', 'card', 'address' strings to mention."""
    line = "您好，12348公共法律服务热线，请问有什么可以帮您？"
    intro = f"你好，我叫{name}，" if name and r.random() < 0.5 else "你好，"
    if media_topic:
        turns = [("坐席", line), ("来电人", f"{intro}我看新闻说{media_topic}的事，想问问我这种情况能不能退。"),
                 ("坐席", r.choice(ADVICE))]
        return [{"speaker": s, "text": t} for s, t in turns]
    turns = [("坐席", line), ("来电人", intro + caller_says(r, dtype, wage) + "。")]
    extra = []
    extra.append(("坐席", "请问事情发生在什么地方？"))
    extra.append(("来电人", f"在{pii['address']}。" if "address" in pii else f"在{place}。"))
    if "id" in pii:
        extra.append(("来电人", f"我身份证号是{pii['id']}。"))
    if "card" in pii:
        extra.append(("来电人", f"钱就打到我这个卡上，卡号{pii['card']}。"))
    threat = [("来电人", escalation_phrase(r, dtype) + "！")] if escalate else []
    extra += threat
    extra.append(("坐席", r.choice(ADVICE)))
    if "phone" in pii:
        extra.append(("来电人", f"好的，我电话是{pii['phone']}，有消息给我打电话。"))
    extra.append(("坐席", "好的，请保持电话畅通，感谢您的来电。"))
    return finish_transcript(r, turns, extra, threat, short)


def finish_transcript(r: random.Random, turns: list, extra: list, threat: list, short: bool) -> list[dict]:
    """The opening ``turns`` and a random cut of the ``extra`` turns (the threat, advice, personal data,
    goodbye) as transcript turns; shared by the fixed and the varied wording."""
    if short:  # a short call: the complaint, perhaps the threat, goodbye
        extra = threat + extra[-1:]
    keep = max(1, min(len(extra), r.randint(1, 6)))
    # keep the escalation and personal-data turns when present, trim advice turns otherwise
    must = [t for t in extra if t[0] == "来电人"]
    rest = [t for t in extra if t[0] == "坐席"]
    chosen = must + rest[: max(0, keep - len(must))]
    chosen.sort(key=extra.index)
    return [{"speaker": s, "text": t} for s, t in turns + chosen]


def order_summary(r: random.Random, dtype: str, wage: bool, place: str, name: str | None,
                  phone_txt: str | None, escalate: bool, dtype_for_esc: str) -> str:
    who = f"来电人{name}" if name else "群众"
    what = caller_says(r, dtype, wage)
    s = f"{who}反映：{place}，{what}。"
    if phone_txt and r.random() < 0.4:
        s += f"联系电话{phone_txt}。"
    if escalate:
        s += f"来电人情绪激动，称{escalation_phrase(r, dtype_for_esc)}。"
    return s + r.choice(("请尽快核实处理。", "请属地调查处理并回复。", "要求尽快解决。"))


def mediation_brief(r: random.Random, dtype: str, wage: bool, place: str, names: list[str],
                    escalate: bool, id_txt: str | None) -> str:
    b = TYPE_TEXT["劳动争议"]["brief"][0] if wage else r.choice(TYPE_TEXT[dtype]["brief"])
    s = f"{place}{names[0]}等" + (f"{len(names)}人" if len(names) > 1 else "") + f"：{b}。"
    if id_txt:
        s += f"申请人身份证号{id_txt}。"
    if escalate:
        s += f"当事人扬言{escalation_phrase(r, dtype)}，需重点关注。"
    return s


# --- labelled texts for evaluating text models (not used by the drop writer) --------------------------

def labelled_texts(seed: int, n: int, feed: str = "hotline", escalate_share: float = 0.1,
                   types: tuple[str, ...] | None = None) -> list[dict]:
    """``n`` texts of ``feed`` drawn with the generators above, each with its true type and cue label.

    For evaluating text models against keyword rules and the lexicon: the drop itself does not say
    which type a call was drawn for or whether its text carries an escalation phrase. Types are drawn
    uniformly from ``types`` (default: all 15), about a third of 劳动争议 texts are wage arrears, and
    ``escalate_share`` of texts carry an escalation phrase. Personal data is planted as in the feeds
    (names, phones, ID and card numbers, street addresses), so callers must mask before use.

    Each dict: ``feed, dispute_type, wage, escalate, cue`` (``threat``, ``collective`` or None), ``name``
    (the record's known person names, 、-joined), ``pii`` (planted numbers and addresses), and the raw text
    fields: hotline ``topic`` and ``transcript`` (turns), workorders ``category`` and ``summary``,
    mediation ``summary`` (纠纷简介).
    """
    if feed not in ("hotline", "workorders", "mediation"):
        raise ValueError(f"unknown feed {feed!r}")
    r = random.Random(f"labelled-{feed}-{seed}")
    labels = list(types or TYPE_LABELS)
    categories: dict[str, list[str]] = {}
    for cat, t in CATEGORY_TO_TYPE.items():
        categories.setdefault(t, []).append(cat)
    out = []
    for _ in range(n):
        dtype = r.choice(labels)
        wage = dtype == "劳动争议" and r.random() < 0.35
        escalate = r.random() < escalate_share
        county, place = "历下区", r.choice(("姚家街道", "龙山街道", "埠村街道", "明水街道")) + r.choice(("东村", "西村", "南苑社区"))
        rec: dict = {"feed": feed, "dispute_type": dtype, "wage": wage, "escalate": escalate, "pii": []}
        if feed == "hotline":
            name = person_name(r) if r.random() < 0.7 else None
            pii: dict = {}
            short = r.random() < 0.2
            if not short and r.random() < 0.25:
                pii["phone"] = phone(r)
            if not short and r.random() < 0.08:
                pii["id"] = id_number(r, "370102")
            if not short and r.random() < 0.04:
                pii["card"] = bank_card(r)
            if not short and r.random() < 0.15:
                pii["address"] = street_address(r, county)
            rec.update(name=name, topic=topic(r, dtype, wage),
                       transcript=transcript(r, dtype, wage, county + place, name, pii, escalate, short=short))
            rec["pii"] = list(pii.values())
            text = "".join(t["text"] for t in rec["transcript"])
        elif feed == "workorders":
            name = person_name(r) if r.random() < 0.6 else None
            number = phone(r) if r.random() < 0.5 else None
            cat = ("劳动社保/欠薪" if wage else r.choice(("劳动社保/劳动合同", "劳动社保/工伤")) if dtype == "劳动争议"
                   else r.choice(categories[dtype]))  # as orders.py picks them
            rec.update(name=name, category=cat,
                       summary=order_summary(r, dtype, wage, county + place, name, number, escalate, dtype))
            rec["pii"] = [number] if number and number in rec["summary"] else []
            text = rec["summary"]
        else:
            names = [person_name(r) for _ in range(1 if r.random() < 0.8 else r.randint(2, 3))]
            id_txt = id_number(r, "370102") if r.random() < 0.05 else None
            rec.update(name="、".join(names), summary=mediation_brief(r, dtype, wage, place, names, escalate, id_txt))
            rec["pii"] = [id_txt] if id_txt else []
            text = rec["summary"]
        rec["cue"] = (None if not escalate else "collective" if any(p in text for p in COLLECTIVE_SAY) else "threat")
        out.append(rec)
    return out


# --- personal data in forms that defeat plain masking rules (planted in a few percent of texts) -----

COMPOUND_SURNAMES = ("欧阳", "上官", "司马", "诸葛", "东方", "皇甫", "慕容", "令狐", "公孙", "夏侯")
KIN_WORDS = ("我老婆", "我老公", "我爸", "我妈", "老板", "包工头", "我儿子", "房东")
MASKING_FORMS = ("fullwidth_phone", "ideographic_space_phone", "comma_phone", "grouped_phone", "landline_extension",
                 "grouped_id", "spoken_phone", "email", "compound_name", "kin_name")
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_SPOKEN = str.maketrans("0123456789", "零一二三四五六七八九")
_MAILBOXES = ("qq.com", "163.com", "126.com", "sina.com", "139.com")
_PINYIN = ("zhangwei", "wangfang", "liuxiuying", "chenjing", "lihua", "zhaolei", "sunli", "zhoujun")


def masking_form(r: random.Random, county6: str = "370102", city4: str = "3701") -> tuple[str, str, str, str]:
    """A caller's sentence holding personal data in a form that plain rules miss.

    Returns ``(form, sentence, value, digits)``: ``value`` is the planted string that must not survive
    masking (for a name after a kin word, the kin word with the name), ``digits`` the number's digits
    as a normaliser would leave them ("" for names and e-mail addresses).
    """
    form = r.choice(MASKING_FORMS)
    m = mobile(r)
    if form == "fullwidth_phone":
        value = m.translate(_FULL_WIDTH)
        return form, f"我手机号是{value}。", value, m
    if form == "ideographic_space_phone":
        value = f"{m[:3]}\u3000{m[3:7]}\u3000{m[7:]}"
        return form, f"电话{value}，随时打。", value, m
    if form == "comma_phone":
        value = f"{m[:3]}，{m[3:7]}，{m[7:]}"
        return form, f"号码是{value}。", value, m
    if form == "grouped_phone":
        area, local = AREA_CODES.get(city4, "0531"), f"{r.randint(20000000, 89999999)}"
        value = r.choice((f"{m[:4]} {m[4:7]} {m[7:]}", f"{m[:3]} {m[3:7]} {m[7:]}", f"{area} {local[:4]} {local[4:]}"))
        return form, f"你记一下，{value}。", value, value.replace(" ", "")
    if form == "landline_extension":
        number = f"{AREA_CODES.get(city4, '0531')}-{r.randint(20000000, 89999999)}"
        value = f"{number}转{r.randint(100, 999)}"
        return form, f"打单位电话{value}也行。", value, number.replace("-", "")
    if form == "grouped_id":
        number = id_number(r, county6)
        value = f"{number[:6]} {number[6:14]} {number[14:]}"
        return form, f"身份证号{value}。", value, number
    if form == "spoken_phone":
        value = m.translate(_SPOKEN)
        if r.random() < 0.5:
            value = value.replace("一", "幺")  # how operators read a 1 aloud
        return form, f"我电话{value}。", value, m
    if form == "email":
        local = f"{r.randint(10000000, 999999999)}" if r.random() < 0.5 else f"{r.choice(_PINYIN)}{r.randint(10, 9999)}"
        value = f"{local}@{r.choice(_MAILBOXES)}"
        return form, f"材料可以发我邮箱{value}。", value, ""
    if form == "compound_name":
        value = r.choice(COMPOUND_SURNAMES) + r.choice(GIVEN) + r.choice(GIVEN)
        return form, r.choice((f"我叫{value}。", f"联系人：{value}，", f"{value}反映的情况属实。")), value, ""
    name = r.choice(SURNAMES) + r.choice(GIVEN) + r.choice(GIVEN)
    value = r.choice(KIN_WORDS) + name
    return form, value + r.choice(("说这事不算完。", "一直不给钱。", "住院了。", "也不管。")), value, ""
