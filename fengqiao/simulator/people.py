"""Invented people: names, phone numbers, resident ID and bank card numbers, street addresses.

All functions take a ``random.Random`` (fast per-record draws). Numbers are well-formed (valid ID check
characters, Luhn-valid card numbers, real Shandong area codes) so that masking rules have real work.
"""
from __future__ import annotations

import random

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国红玉梅琴云莲志海波宁鹏飞斌辉浩亮凯健俊峰振鑫宇晨欣怡佳雪婷子涵博文"
_MOBILE = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "157",
           "158", "159", "166", "170", "176", "177", "180", "181", "182", "185", "186", "187", "188", "189", "191", "199")
AREA_CODES = {"3701": "0531", "3702": "0532", "3703": "0533", "3704": "0632", "3705": "0546", "3706": "0535",
              "3707": "0536", "3708": "0537", "3709": "0538", "3710": "0631", "3711": "0633", "3713": "0539",
              "3714": "0534", "3715": "0635", "3716": "0543", "3717": "0530"}
_CARD_BIN = ("622848", "621700", "622202", "623668", "621226", "622588", "622700", "621483")
_ID_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def person_name(r: random.Random) -> str:
    n = 1 if r.random() < 0.3 else 2
    return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(n))


def mobile(r: random.Random) -> str:
    """An 11-digit mobile number, digits only."""
    return r.choice(_MOBILE) + f"{r.randint(0, 99999999):08d}"


def phone(r: random.Random, city4: str = "3701") -> str:
    """A phone number in one of the written forms seen in real exports."""
    x = r.random()
    if x < 0.15:
        return f"{AREA_CODES.get(city4, '0531')}-{r.randint(20000000, 89999999)}"
    m = mobile(r)
    if x < 0.65:
        return m
    if x < 0.82:
        return f"+86 {m[:3]} {m[3:7]} {m[7:]}"
    return f"{m[:3]}-{m[3:7]}-{m[7:]}"


def id_number(r: random.Random, county6: str) -> str:
    """An 18-digit resident ID number with a valid GB 11643 check character."""
    body = f"{county6}{r.randint(1950, 2005)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(0, 999):03d}"
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, _ID_W)) % 11]
    return body + check


def bank_card(r: random.Random) -> str:
    """A 16- or 19-digit card number that passes the Luhn check."""
    length = 19 if r.random() < 0.5 else 16
    digits = r.choice(_CARD_BIN) + "".join(str(r.randint(0, 9)) for _ in range(length - 7))
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return digits + str((10 - total % 10) % 10)


def street_address(r: random.Random, county_name: str) -> str:
    road = r.choice(("泉城", "经十", "解放", "和平", "人民", "文化", "建设", "花园", "工业", "胜利", "幸福", "青年", "齐鲁", "舜耕"))
    if r.random() < 0.6:
        return f"{county_name}{road}{r.choice(('路', '街', '大道'))}{r.randint(1, 399)}号"
    return f"{county_name}{road}{r.choice(('花园', '小区', '家园', '苑'))}{r.randint(1, 30)}号楼{r.randint(1, 6)}单元{r.randint(1, 30)}0{r.randint(1, 4)}室"
