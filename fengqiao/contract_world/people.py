"""Synthetic people: names, phone numbers, ID numbers, bank cards, and how people say numbers.

All personal data is invented. ID numbers carry a real-looking Hengyang area prefix and a correct
check digit, because a privacy filter that tests the checksum should see valid ones.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

# Surnames weighted roughly as in Hunan (刘, 李, 王, 陈, 张 ... plus local ones such as 谭, 彭, 曾, 欧阳).
_SURNAMES = ("刘" * 9 + "李" * 8 + "王" * 7 + "陈" * 7 + "张" * 6 + "周" * 5 + "谭" * 4 + "罗" * 4 + "彭" * 4
             + "曾" * 4 + "唐" * 4 + "邓" * 4 + "黄" * 4 + "胡" * 3 + "蒋" * 3 + "肖" * 3 + "贺" * 2 + "廖" * 2
             + "龙" * 2 + "阳" + "雷" * 2 + "颜" + "匡" + "段" * 2 + "旷" + "资" + "伍" * 2 + "文" * 2 + "屈")
_COMPOUND = ("欧阳", "司马", "上官")
_GIVEN_M = "建国军伟强明华勇杰斌涛平志刚海林文辉俊德生福荣贵春永国新东红兵剑峰"
_GIVEN_F = "秀芳丽华英玉兰梅娟霞敏静燕艳红凤琴桂珍翠娥慧婷莉萍"
_AREA = ("430405", "430406", "430407", "430408", "430412", "430421", "430422", "430423", "430424",
         "430426", "430481", "430482", "430403", "430404")
_MOBILE_PREFIX = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
                  "157", "158", "159", "166", "173", "175", "177", "180", "181", "182", "183", "185", "186",
                  "187", "188", "189", "191", "193", "198", "199")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass
class Person:
    name: str
    gender: str
    phone: str
    birth_year: int

    @property
    def polite(self) -> str:
        """How an operator records a caller who gave only the surname: 张先生 / 刘女士."""
        surname = self.name[:2] if self.name[:2] in _COMPOUND else self.name[0]
        return surname + ("先生" if self.gender == "m" else "女士")

    @property
    def masked(self) -> str:
        """How some registries write a party: 张某 / 张某某."""
        surname = self.name[:2] if self.name[:2] in _COMPOUND else self.name[0]
        return surname + ("某" if len(self.name) == 2 else "某某")


def name(rng: random.Random, gender: str | None = None) -> tuple[str, str]:
    g = gender or rng.choice("mf")
    pool = _GIVEN_M if g == "m" else _GIVEN_F
    s = rng.choice(_COMPOUND) if rng.random() < 0.015 else rng.choice(_SURNAMES)
    given = rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.75 else "")
    return s + given, g


def phone(rng: random.Random) -> str:
    if rng.random() < 0.07:  # a landline in the Hengyang area code
        return f"0734-{rng.randint(2, 8)}{rng.randint(0, 999999):06d}"
    return rng.choice(_MOBILE_PREFIX) + f"{rng.randint(0, 99999999):08d}"


def person(rng: random.Random, gender: str | None = None) -> Person:
    n, g = name(rng, gender)
    return Person(n, g, phone(rng), rng.randint(1948, 2004))


def id_number(rng: random.Random, p: Person | None = None) -> str:
    year = p.birth_year if p else rng.randint(1950, 2004)
    seq = rng.randint(0, 99) * 10 + (rng.choice((1, 3, 5, 7, 9)) if (p and p.gender == "m") else rng.choice((0, 2, 4, 6, 8)))
    body = f"{rng.choice(_AREA)}{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{seq:03d}"
    return body + _ID_CHECK[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS)) % 11]


def bank_card(rng: random.Random) -> str:
    return rng.choice(("6217", "6222", "6228", "6216", "6230")) + "".join(str(rng.randint(0, 9)) for _ in range(15))


_DIG = "零一二三四五六七八九"


def cn_int(n: int) -> str:
    """3 -> 三, 12 -> 十二, 35 -> 三十五, 200 -> 两百, 1200 -> 一千二."""
    if n < 10:
        return "两" if n == 2 else _DIG[n]
    if n < 20:
        return "十" + (_DIG[n % 10] if n % 10 else "")
    if n < 100:
        return _DIG[n // 10] + "十" + (_DIG[n % 10] if n % 10 else "")
    if n < 1000:
        h, r = divmod(n, 100)
        s = ("两" if h == 2 else _DIG[h]) + "百"
        if r == 0:
            return s
        if r < 10:
            return s + "零" + _DIG[r]
        return s + _DIG[r // 10] + ("" if r % 10 == 0 else "十" + _DIG[r % 10])  # 三百五 / 三百五十六
    th, r = divmod(n, 1000)
    return ("两" if th == 2 else _DIG[th]) + "千" + (_DIG[r // 100] if r >= 100 else "")


def spoken_money(rng: random.Random, yuan: float) -> str:
    """How a caller says an amount: 八千多 / 两万多块 / 一万二 / 三十来万 / 4万5."""
    y = int(yuan)
    if y < 1000:
        s = f"{y}块" if rng.random() < 0.5 else cn_int(max(1, y // 100 * 100)) + "来块"
    elif y < 10000:
        s = cn_int(y // 1000) + "千" + rng.choice(("多", "多块", "块钱", ""))
    else:
        w, r = divmod(y, 10000)
        if w >= 100:
            s = cn_int(w // 100) + "百多万" if rng.random() < 0.6 else f"{w}万"
        elif rng.random() < 0.35 and r >= 1000:
            s = (cn_int(w) if w < 100 else str(w)) + "万" + _DIG[r // 1000]
        elif rng.random() < 0.3:
            s = f"{w}万{r // 1000}" if r >= 1000 else f"{w}万"
        else:
            s = (cn_int(w) if w < 100 else str(w)) + "万" + rng.choice(("多", "多块", "", "来块钱"))
    return s


def spoken_count(rng: random.Random, n: int) -> str:
    """A crowd as people say it: 十几个 / 二三十个 / 五六十号 / 一百多."""
    if n < 10:
        return cn_int(n) + "个"
    if n < 20:
        return rng.choice(("十几个", "十来个", cn_int(n) + "个"))
    if n < 100:
        t = n // 10
        pair = _DIG[t] + _DIG[min(9, t + 1)]  # 二三十, 五六十
        return rng.choice((cn_int(t) + "十多个", pair + "十个", pair + "十号", cn_int(t * 10) + "来号"))
    return rng.choice((cn_int(n // 100 * 100) + "多", cn_int(n // 100 * 100) + "多号", "上百个"))
