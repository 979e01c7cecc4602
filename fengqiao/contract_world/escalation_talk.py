"""How a grievance that is heading somewhere sounds, and the things that only sound like it.

- MATTER: per dispute type, the shared grievance of an episode (one site, one estate, one family feud), whether
  it is a crowd matter (群体性) or a matter between a few people (民转刑), and what the incident at the peak is.
- STAGE_*: what callers say as the matter builds: early frustration, then threats that are mostly implied,
  then (in loud episodes) the explicit words. Crowd and personal matters sound different.
- MISFIRES: ordinary calls that use alarming words out of context, so that keyword spotting alone misfires.
- MEDIA: curious callers after a news story, HABITUAL: the caller who rings every week about the same thing.
Slots as in situations.py, plus {thing} (the matter's own name) and {times} (how often they have called).
"""
from __future__ import annotations

# type -> (crowd matter?, matter phrasings, incident reports, cause for 纠纷简介)
MATTER: dict[str, tuple[bool, list[str], list[str], str]] = {
    "劳动争议": (True, ["{thing}的工程款不结，我们{n}个人的工钱全压在那里", "{thing}的老板欠了我们{months}的工资",
                    "我们是在{thing}做事的，工资拖了{months}，包工头讲上面冇给钱"],
             ["{thing}那边一帮工人把工地大门堵了", "{thing}的工人爬到塔吊上去了", "讨薪的工人跟老板的人打起来了"], "拖欠{n}名务工人员工资"),
    "婚姻家庭": (False, ["我跟{who}的事，就是上次打过电话的离婚那个事", "{who}又来我家闹了，还是为孩子和房子的事",
                    "{who}天天喝了酒回来就砸东西"],
             ["{who}拿刀把人砍伤了", "两家人在村里打起来了，派出所都来了"], "离婚财产及子女抚养问题矛盾激化"),
    "邻里": (False, ["还是我跟隔壁{who}那个事，{thing}", "隔壁那家为了{thing}又跟我吵起来了",
                 "我们两家因为{thing}闹了{months}了"],
            ["两家人为了{thing}打起来了，有人进了医院", "他把我家的门砸了"], "因{thing}长期积怨"),
    "房屋宅基地": (False, ["我们两家{thing}的事一直没解决", "{who}家硬要在{thing}上砌墙",
                    "{thing}的事，他们家族的人都来了"],
              ["两家为了{thing}打起来了，好几个人受伤", "他们一伙人把我家刚砌的墙推了"], "因{thing}界址争议矛盾激化"),
    "合同": (True, ["{thing}收了我们的钱，现在房子烂在那里", "我们{n}个人都在{thing}交了钱，现在人找不到了",
                 "{thing}的合同到期了，钱一分都退不出来"],
            ["{thing}门口围了一大群人要钱", "交了钱的人把售楼部堵了"], "{thing}合同款项无法退还，涉及{n}人"),
    "生产经营": (True, ["{thing}收了我们的货一直不给钱，我们{n}户都是", "{thing}的老板跑了，欠我们货款",
                   "我们合作社跟{thing}的账一直结不了"],
              ["种养户把{thing}的车扣下了", "几十户人把{thing}的门堵了"], "{thing}拖欠{n}户农户货款"),
    "损害赔偿": (False, ["上次那个赔偿的事，{who}到现在一分钱不给", "我被{who}打伤的那个事，派出所讲调解，调了几次都不行",
                   "{who}撞了我家的人，一直拖着不赔"],
              ["受害人家属冲到{who}家里去了", "为了赔偿的事两家人又动手了"], "人身损害赔偿长期未履行"),
    "山林土地": (True, ["我们组跟{thing}的山界的事，今年又闹起来了", "{thing}的人又过来砍我们的树",
                   "{thing}那块地，两个组都讲是自己的"],
              ["两个组的人为了{thing}在山上对峙", "两个村的人在山上打起来了"], "两组村民因{thing}权属争议"),
    "征地拆迁": (True, ["{thing}的征地补偿到现在冇发到位", "{thing}的拆迁，好多户都冇签字，补偿太低",
                   "{thing}那个项目，我们的安置房一直冇着落"],
              ["村民把{thing}的施工便道堵了", "拆迁户在{thing}工地上拉了横幅"], "{thing}征地补偿争议，涉及{n}户"),
    "环境污染": (True, ["{thing}排的水把我们的田都毁了", "{thing}天天冒黑烟，村里好多人咳嗽",
                   "{thing}的臭味我们忍了{months}了"],
              ["村民把{thing}的大门堵了，车子进不去", "一帮人冲进{thing}把设备砸了"], "{thing}排污影响周边{n}户村民"),
    "消费": (True, ["{thing}关门了，我们{n}个会员的钱都在里面", "{thing}的老板跑路了，卡里的钱退不出来",
                 "我们在{thing}交的学费，现在人都找不到"],
            ["会员把{thing}的门堵了", "家长们在{thing}门口拉横幅"], "{thing}停业预付费无法退还，涉及{n}人"),
    "医疗": (False, ["我家{rel}在{thing}做手术死了，医院一直推", "{thing}的事，医院到现在不给个说法",
                 "我们在{thing}治出了问题，医院不认"],
            ["家属在{thing}门口摆了花圈", "家属跟{thing}的保安推搡起来了"], "患者在{thing}诊疗后死亡，家属与院方争议"),
    "道路交通事故": (False, ["我{rel}被撞死的那个事，{who}一分钱都没赔", "车祸的事拖了{months}了，{who}讲冇钱",
                     "出事的那个司机一直躲着我们"],
                ["死者家属把棺材抬到{who}家门口了", "家属把路口堵了要说法"], "交通事故致人死亡赔偿未履行"),
    "物业": (True, ["{thing}的业主都对物业有意见，{thing}停水停电", "{thing}交房{months}了，问题一个都没解决",
                 "{thing}的开发商跟物业串通好了，我们{n}户业主都不同意"],
            ["{thing}的业主在售楼部拉横幅", "{thing}的业主把物业办公室围了"], "{thing}业主与物业、开发商矛盾，涉及{n}户"),
    "其他": (True, ["我们村的账{months}了都不公开，{thing}的钱不知道去哪里了", "{thing}的分红村里一直不发",
                 "{thing}的事，我们村里好多人都有意见"],
            ["村民把村部围了", "一帮村民要去市里上访"], "村民对{thing}分配有异议，涉及{n}人"),
}

# Names of the shared matter, per type (filled into {thing}); {p} is a place morpheme, {v} a village name.
THING: dict[str, list[str]] = {
    "劳动争议": ["{p}花园三期工地", "{p}大道改造工程", "{p}鞋厂", "{p}建筑劳务公司", "{p}安置小区工地"],
    "婚姻家庭": ["孩子抚养", "离婚分房子"],
    "邻里": ["滴水檐", "排水沟", "过路的巷子", "楼顶加盖"],
    "房屋宅基地": ["老屋的宅基地", "屋后的空坪", "祖上的地基"],
    "合同": ["{p}置业", "{p}投资公司", "{p}养老公寓"],
    "生产经营": ["{p}农产品公司", "{p}食品厂", "{p}收购站"],
    "损害赔偿": ["赔偿"],
    "山林土地": ["{v}", "{v}那边"],
    "征地拆迁": ["{p}工业园", "{p}高速连接线", "{p}片区改造"],
    "环境污染": ["{p}化工厂", "{p}砖厂", "{p}养殖场", "{p}冶炼厂"],
    "消费": ["{p}健身会所", "{p}教育培训中心", "{p}美容院"],
    "医疗": ["{p}医院", "{p}诊所"],
    "道路交通事故": ["车祸"],
    "物业": ["{p}花园", "{p}国际", "{p}新城", "{p}御府"],
    "其他": ["{v}征地款", "{v}集体山林", "村集体"],
}

# Early stage: frustration, repetition; no threat yet.
STAGE_EARLY = ["找了好几次了，都讲在处理", "一直拖着，拖到现在", "讲下个月给，到了下个月又讲下个月", "去村里问，村里推到镇里，镇里又推回来",
               "我都打了好几次电话了", "每次都是记一下就冇下文了", "我们也是冇得办法才打这个电话", "调解了一次，他根本不认账"]
# Middle stage, crowd matters: numbers, organising, deadlines, mostly implied.
STAGE_MID_CROWD = ["大家都憋着一肚子火", "几十号人都在这等着", "我们已经拉了个群，人越来越多", "再不给个说法我们就自己想办法了",
                   "好多人讲要一起去找他们", "过年前拿不到钱，大家是不会罢休的", "我是劝大家不要乱来，但是我也劝不住了",
                   "下礼拜再冇结果，大家讲好了一起去", "有人讲要去县里，我讲先打个电话问问"]
# Middle stage, personal matters: despair, veiled threats.
STAGE_MID_PERSONAL = ["我也不知道自己会干出什么来", "逼急了谁都不好过", "我现在晚上都睡不着，脑子里就是这个事",
                      "他要是再这样，我真的忍不了了", "报了好几次警了，警察来了讲两句就走了", "我冇得退路了",
                      "他家里人还放话要收拾我", "我这条命反正也不值钱"]
# Late stage, explicit words (loud episodes only).
STAGE_LATE_CROWD = ["明天我们就去市政府门口拉横幅", "再不解决我们就去堵路", "我们准备集体上访，去省里", "已经联系了记者，要找媒体曝光",
                    "大家讲好了，明天一百多人一起去", "不给钱就天天去堵他的门"]
STAGE_LATE_PERSONAL = ["大不了跟他同归于尽", "我跟他没完，迟早要出事", "我今天就去找他拼命", "刀我都准备好了",
                       "他再敢来，我就跟他拼了", "出了人命你们就晓得了"]
# Said after the incident by bystanders, cadres or relatives.
AFTERMATH = ["昨天那个事你们晓得吧，闹得蛮大", "现在人都散了，但是问题还冇解决", "派出所已经来处理了，我想问后面怎么办",
             "事情闹成这样，当初早点管就好了", "我是他家亲戚，想问一下现在要怎么弄"]

# Calm buildup that ends well (near misses): hope and relief.
RESOLVED = ["今天司法所的人来了，讲这个礼拜给我们答复", "钱发了一部分了，剩下的讲月底结清", "调解员来了好几次，两家总算坐下来谈了",
            "村里开了会，讲重新量", "老板出面了，签了还款协议"]

# Ordinary calls that use alarming words out of context, so that keyword spotting alone misfires: per type where
# the words belong to that kind of matter, and general ones (said as an aside: "还有个事，…").
MISFIRES: dict[str, list[str]] = {
    "劳动争议": ["我一天到晚拼命工作，年终奖都不发", "我们厂几十号人都签了合同的，我就是想问问试用期的事",
             "我不想活了，天天加班，开玩笑的，我就是想问加班费", "大家都这样，老板讲全市的厂都是这么扣的"],
    "邻里": ["他讲他是闹着玩的，但是把我家孩子吓哭了", "门口那条路修了三个月了，天天堵路", "气死我了，不过也就是问问，不想把关系搞僵"],
    "婚姻家庭": ["我儿子打游戏的时候喊要跟别人同归于尽，这个要紧不", "两口子吵架讲的气话，什么离婚不离婚的，我就是问问"],
    "合同": ["这件事我跟他没完没了地扯了几年，其实就是想问问诉讼时效", "他讲再不还钱就找媒体曝光我，这个合法吗"],
    "道路交通事故": ["他讲要跟我拼酒，结果把车开到沟里去了", "那个路口天天堵路，早晚要出事"],
    "生产经营": ["我们店开业想拉个横幅，要不要去哪里审批", "大家都这样卖，是不是就不违法了"],
    "其他": ["我就是想问一下，上访的流程是什么，要准备么子材料", "我们村集体经济分红的钱要怎么算", "我看抖音上那些找媒体曝光的，有用吗"],
    "物业": ["热得要死，空调坏了房东也不修", "小区业主群里天天吵，几百号人，其实就是为了停车的事"],
}
MISFIRE_ANY = ["气死我了，不过也就是问问", "我看抖音上那些找媒体曝光的，有用吗", "大家都这样，是不是就不违法了",
               "我就是想问一下，上访的流程是什么"]

# News stories that make people ring up curious; type -> (story, question) lists.
MEDIA: dict[str, tuple[list[str], list[str]]] = {
    "消费": (["新闻上讲有家健身房老板卷钱跑了，几百个会员去堵门", "网上都在传那个连锁培训机构爆雷了，家长都去拉横幅了"],
           ["我也办了卡，想问问会不会出事", "预付卡要怎么保护自己", "我交了一年的学费，要不要现在去退"]),
    "劳动争议": (["看到新闻说外地有工人讨薪爬到楼顶上去了", "网上有个视频，一帮农民工堵了高速口要工钱"],
             ["我们这里会不会也这样", "我想问问欠薪到底要找哪个", "农民工工资保证金是怎么回事"]),
    "邻里": (["新闻讲有人高空抛物被判了刑", "看到视频说两家邻居为了一点小事闹出了人命"],
           ["我楼上也往下丢东西，这个能告吗", "邻居吵架到么子程度要报警"]),
    "婚姻家庭": (["电视上讲那个杀妻案判了", "网上都在讲离婚冷静期"],
             ["家暴到底怎么认定", "离婚冷静期是好久", "我想问问保护令是怎么申请的"]),
    "征地拆迁": (["看到视频说隔壁县征地，村民跟施工队打起来了", "网上讲有人为了拆迁补偿去北京上访"],
             ["我们这边征地补偿标准是多少", "拆迁不签字会怎么样"]),
    "物业": (["新闻说有个小区业主拉横幅维权上了热搜", "网上讲有个楼盘烂尾了，业主集体停贷"],
           ["我们的房子会不会也烂尾", "业主维权要走么子程序"]),
    "医疗": (["新闻说有医院出了事，家属在门口摆花圈", "看到报道讲医闹要判刑"],
           ["医疗纠纷正规的途径是么子", "病历要怎么封存"]),
    "环境污染": (["新闻讲有个化工厂偷排被查了，村民都去堵门", "网上说隔壁市的水被污染了"],
             ["我们这边的水安全不", "举报污染要找哪个"]),
}

# The habitual complainant's grievance, per type: what they always say and what they say on bad days.
HABITUAL: dict[str, tuple[list[str], list[str]]] = {
    "邻里": (["又是我，楼上还在吵，你们到底管不管", "我还是反映楼上噪音的事，昨晚又搞到两点"],
           ["我跟他们没完", "你们不管我就天天打"]),
    "物业": (["我还是讲那个车位的事，物业到现在冇答复", "又是我，小区门口的垃圾还是冇人收"],
           ["我要一直投诉到底", "我要打到市长热线去"]),
    "环境污染": (["楼下那个烧烤店的油烟今天又冲到我家了", "还是我，那个饭店的排风扇一晚上都在响"],
             ["再不管我就去找媒体", "我天天打，打到你们管为止"]),
    "其他": (["我还是反映我家低保的事", "我还是要讲那个判决的事，我不服"],
           ["我要去北京上访", "你们都是一伙的"]),
    "房屋宅基地": (["还是我，隔壁那堵墙还是冇拆", "我还是反映宅基地那个事"],
              ["冇得结果我就天天打", "我要告到省里去"]),
}
