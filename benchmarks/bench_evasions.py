"""Recall of party screening on REAL list entries disguised the way evaders do (issue 11, item 4).

Usage:
  python benchmarks/bench_evasions.py [--sample 400] [--seed 11] [--data ../shared/data] [--show 5]
                                       [--sec] [--classes cyrillic,leet] [--sections 1,2,3]

Every query goes through the real party screening path (``ecscreen.parties.screening.screen_party_batches``, the
party as consignee, no country), against the embedded CSL snapshot unless said otherwise. A query counts
as found when the disguised entry (or an entry of the same normalised name: the same entity on another
sub-list) is among its hits.

Sections
1. Programmatic evasions of a seeded sample of embedded-CSL entries (names of 2-60 characters, ASCII):
   plain (control), rlo (right-to-left override + reversed text), spaced letters, one word's letters
   joined by _ . - NBSP TAB NUL, Cyrillic / Greek / Cherokee look-alikes (Unicode confusables, every
   letter that has one), leetspeak (a->4 e->3 i->1 o->0, names with >= 2 substitutions), words run
   together (CamelCase and ALLCAPS, names of >= 2 words).
2. Real original-script names: the UN consolidated list's NAME_ORIGINAL_SCRIPT (Arabic script and
   Cyrillic, as the UN publishes them), screened against the UN list WITHOUT those aliases.
3. Hand-written renderings of listed names in Japanese, Korean, Russian, Persian and Chinese (each with
   where it came from, see RENDERINGS), and the traditional-Chinese form of every Chinese rendering
   (OpenCC s2t); a held-out set of Chinese names (RENDERINGS_HELDOUT) not used to write the data files;
   round 4 (RENDERINGS_R4, 61 more ja/ko/ru/fa renderings, every third held out as '<lang>_heldout') and a
   per-language line over all rows; round 5 (RENDERINGS_R5, a new held-out set of every language, '<lang>_heldout2',
   written before the round's changes) is reported on its own and in the per-language lines; round 6
   (RENDERINGS_R6, held-out set 4, '<lang>_heldout4', written before that round's changes). A miss of a
   brand-only rendering prints its Latin control (LATIN_CONTROLS).
4. ``--sec``: ordinary business names (SEC company names) as end users in GB: parties with any hit.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from ecscreen.domain.normalize import confusables, normalize
from ecscreen.model import Party, PartyRole
from ecscreen.parties import store as lists_mod
from ecscreen.parties.matching import ListEntry
from ecscreen.parties.screening import screen_party_batches
from ecscreen.parties.store import ScreeningList, load_default, read_list

AS_OF = dt.date(2026, 8, 15)

# (language, rendering, a name or alias of the listed entry it renders, where the rendering comes from)
# Written for this benchmark by the ecscreen developers from the named sources (Wikipedia article titles
# in the language, the company's own name in its language, or the standard transliteration into the
# script as used by that language's press); they are not taken from the lists.
# Targets: the list name or alias the rendering says. A rendering of the brand alone targets the list's alias
# that is the brand alone: 'Kaspersky' (alias of EL-4508 AO Kaspersky Lab) and 'SUKHOI' (alias of SDN-36431
# United Aircraft Corporation); until 2026-11-28 (h6) these five rows targeted 'Kaspersky Group' and 'Sukhoi
# Aviation JSC', entities the renderings do not name more than the ones the list gives the brand to.
RENDERINGS: list[tuple[str, str, str, str]] = [
    ("ja", "ファーウェイ", "HUAWEI TECHNOLOGIES CO., LTD.", "ja.wikipedia title 'ファーウェイ'"),
    ("ja", "ファーウェイ・テクノロジーズ", "HUAWEI TECHNOLOGIES CO., LTD.", "Huawei Japan press releases"),
    ("ja", "ロソボロンエクスポルト", "ROSOBORONEKSPORT OAO", "ja.wikipedia title 'ロソボロンエクスポルト'"),
    ("ja", "カスペルスキー", "Kaspersky", "ja.wikipedia title 'カスペルスキー'"),
    ("ja", "ツポレフ", "Tupolev JSC", "ja.wikipedia title 'ツポレフ'"),
    ("ja", "スホーイ", "SUKHOI", "ja.wikipedia title 'スホーイ'"),
    ("ja", "カラシニコフ・コンツェルン", "Kalashnikov Concern", "ja.wikipedia title 'カラシニコフ・コンツェルン'"),
    ("ja", "イルクート", "Irkut Corporation", "ja.wikipedia title 'イルクート'"),
    ("ja", "ウラルヴァゴンザヴォード", "Uralvagonzavod", "ja.wikipedia title 'ウラルヴァゴンザヴォード'"),
    ("ja", "ロステック", "Rostec (Russian Technologies State Corporation)", "ja.wikipedia title 'ロステック'"),
    ("ja", "マハーン航空", "MAHAN AIR", "ja.wikipedia title 'マハーン航空' (航空 = air/airlines)"),
    ("ja", "ヒクビジョン", "Hikvision", "Hikvision Japan (ヒクビジョン・ジャパン)"),
    ("ko", "화웨이", "HUAWEI TECHNOLOGIES CO., LTD.", "ko.wikipedia title '화웨이'"),
    ("ko", "로소보로넥스포르트", "ROSOBORONEKSPORT OAO", "Korean press transliteration (National Institute of Korean Language rules)"),
    ("ko", "카스퍼스키", "Kaspersky", "ko.wikipedia title '카스퍼스키'"),
    ("ko", "투폴레프", "Tupolev JSC", "ko.wikipedia title '투폴레프'"),
    ("ko", "수호이", "SUKHOI", "ko.wikipedia title '수호이'"),
    ("ko", "칼라시니코프", "Kalashnikov Concern", "ko.wikipedia title '칼라시니코프 콘체른' (first word)"),
    ("ko", "이르쿠트", "Irkut Corporation", "ko.wikipedia title '이르쿠트 (기업)'"),
    ("ko", "하이크비전", "Hikvision", "ko.wikipedia title '하이크비전'"),
    ("ko", "단천상업은행", "TANCHON COMMERCIAL BANK", "DPRK name of the bank (Korean); 상업은행 = commercial bank"),
    ("ru", "Рособоронэкспорт", "ROSOBORONEKSPORT OAO", "the company's Russian name"),
    ("ru", "Хуавэй", "HUAWEI TECHNOLOGIES CO., LTD.", "Russian press transliteration of Huawei"),
    ("ru", "Туполев", "Tupolev JSC", "the company's Russian name (ПАО «Туполев»)"),
    ("ru", "Сухой", "SUKHOI", "the company's Russian name (ПАО «Компания „Сухой“»)"),
    ("ru", "Концерн Калашников", "Kalashnikov Concern", "the company's Russian name"),
    ("ru", "Уралвагонзавод", "Uralvagonzavod", "the company's Russian name"),
    ("ru", "Иркут", "Irkut Corporation", "the company's Russian name (Корпорация «Иркут»)"),
    ("ru", "Лаборатория Касперского", "AO Laboratoriya Kasperskogo", "the company's Russian name"),
    ("ru", "Банк Мелли Иран", "BANK MELLI IRAN", "Russian transliteration of the bank's name"),
    ("ru", "Махан Эйр", "MAHAN AIR", "Russian transliteration of the airline's name"),
    ("ru", "ЧВК Вагнер", "Chvk Vagner", "Russian name of PMC Wagner"),
    ("ru", "Алмаз-Антей", "Almaz-Antey Corp", "the company's Russian name"),
    ("fa", "هواپیمایی ماهان", "MAHAN AIR", "the airline's Persian name"),
    ("fa", "ماهان ایر", "MAHAN AIR", "Persian rendering of 'Mahan Air' (fa.wikipedia redirect)"),
    ("fa", "بانک ملی ایران", "BANK MELLI IRAN", "the bank's Persian name"),
    ("fa", "بانک ملت", "BANK MELLAT", "the bank's Persian name"),
    ("fa", "بانک سپه", "BANK SEPAH", "the bank's Persian name"),
    ("fa", "بانک صادرات ایران", "BANK SADERAT IRAN", "the bank's Persian name"),
    ("fa", "هواپیمایی کاسپین", "CASPIAN AIRLINES", "the airline's Persian name"),
    ("fa", "ایران ایر", "IRAN AIR", "the airline's Persian brand name"),
    ("fa", "هوآوی", "HUAWEI TECHNOLOGIES CO., LTD.", "fa.wikipedia title 'هوآوی'"),
    ("fa", "روس‌ابورون‌اکسپورت", "ROSOBORONEKSPORT OAO", "Persian press transliteration"),
    ("zh", "华为技术有限公司", "HUAWEI TECHNOLOGIES CO., LTD.", "the company's Chinese name"),
    ("zh", "杭州海康威视数字技术股份有限公司", "Hangzhou Hikvision Digital Technology Co., Ltd.", "the company's Chinese name"),
    ("zh", "大华技术", "Dahua Technology", "the company's Chinese short name (浙江大华技术股份有限公司)"),
    ("zh", "中国移动通信集团有限公司", "China Mobile Communications Group Co., Ltd.", "the company's Chinese name"),
    ("zh", "中国电信集团有限公司", "China Telecom Group Co., Ltd.", "the company's Chinese name"),
    ("zh", "曙光信息产业股份有限公司", "Sugon Information Industry", "the company's Chinese name"),
    ("zh", "浪潮集团有限公司", "Inspur Group", "the company's Chinese name (浪潮 = Inspur)"),
    ("zh", "中芯国际集成电路制造有限公司", "Semiconductor Manufacturing International Corporation", "the company's Chinese name"),
]

# Held out (issue 11, h6): Chinese names of OTHER listed entities, written for this benchmark before
# ``data/normalize/han_names.txt`` was extended and not used to tune it: the entities' full registered Chinese
# names (the company's own name, or the zh.wikipedia article title for universities and institutes). Their brand
# words are deliberately NOT in han_names.txt, so this set measures what pinyin and the generic company words of
# han_terms.txt achieve on names the data was not written for. Reported separately ("zh_heldout").
RENDERINGS_HELDOUT: list[tuple[str, str, str, str]] = [
    ("zh_heldout", "成都海光集成电路设计有限公司", "Chengdu Haiguang Integrated Circuit", "the company's Chinese name"),
    ("zh_heldout", "长沙景嘉微电子股份有限公司", "Changsha Jingjia Microelectronics Co., Ltd", "the company's Chinese name"),
    ("zh_heldout", "广州海格通信集团股份有限公司", "Guangzhou Haige Communication Group Co., Ltd.", "the company's Chinese name"),
    ("zh_heldout", "杭州中科微电子有限公司", "Hangzhou Zhongke Microelectronics Co., Ltd.", "the company's Chinese name"),
    ("zh_heldout", "合肥本源量子计算科技有限责任公司", "Hefei Origin Quantum Computing Technology Co., Ltd.", "the company's Chinese name"),
    ("zh_heldout", "哈尔滨工程大学", "Harbin Engineering University", "zh.wikipedia title"),
    ("zh_heldout", "西北工业大学", "Northwestern Polytechnical University", "zh.wikipedia title"),
    ("zh_heldout", "南京理工大学", "Nanjing University of Science and Technology", "zh.wikipedia title"),
    ("zh_heldout", "北京理工大学", "Beijing Institute of Technology", "zh.wikipedia title"),
    ("zh_heldout", "长江存储科技有限责任公司", "Yangtze Memory Technologies Co., Ltd.", "the company's Chinese name"),
    ("zh_heldout", "浙江宇视科技有限公司", "Zhejiang Uniview Technologies Co., Ltd.", "the company's Chinese name"),
    ("zh_heldout", "天地伟业技术有限公司", "Tiandy Technologies", "the company's Chinese name"),
    ("zh_heldout", "天津飞腾信息技术有限公司", "Tianjin Phytium Information Technology", "the company's Chinese name"),
    ("zh_heldout", "龙芯中科技术股份有限公司", "Loongson Technology Corporation Limited", "the company's Chinese name"),
    ("zh_heldout", "北京旷视科技有限公司", "Megvii Technology", "the company's Chinese name"),
    ("zh_heldout", "新疆生产建设兵团", "Xinjiang Production and Construction Corps", "zh.wikipedia title"),
    ("zh_heldout", "中国核工业集团有限公司", "China National Nuclear Corporation", "the company's Chinese name"),
    ("zh_heldout", "北京中科信电子装备有限公司", "Beijing Zhongke Xin Electronic Equipment", "the company's Chinese name"),
    ("zh_heldout", "无锡江南计算技术研究所", "Wuxi Jiangnan Institute of Computing Technology", "zh.wikipedia title"),
    ("zh_heldout", "中国科学院计算技术研究所", "Institute of Computing Technology Chinese Academy of Sciences", "zh.wikipedia title"),
]

# Round 4 (issue 11, h14, 2026-11-28): more renderings so that 0.95 on a class means something. Written for this
# benchmark BEFORE any code or data change of this round, each target checked on the embedded CSL and its Latin
# form checked to hit (the Latin control: "Rosneft", "Sberbank", ... are found), so a miss here is a rendering miss.
# Sources: the entity's article title on the language's Wikipedia, the company's own name in the language, or the
# language's standard transliteration of the Latin name (Japanese katakana loanword spelling, Korean NIKL loanword
# orthography, Russian the company's Russian name). Every third row of each language is held out ("<lang>_heldout"):
# reported separately and not looked at while changing code or data.
RENDERINGS_R4: list[tuple[str, str, str, str]] = [
    ("ja", "ロスネフチ", "Rosneft", "ja.wikipedia title 'ロスネフチ'"),
    ("ja", "ルクオイル", "Lukoil", "ja.wikipedia title 'ルクオイル'"),
    ("ja", "ズベルバンク", "PJSC SBERBANK", "ja.wikipedia title 'ズベルバンク'"),
    ("ja", "トランスネフチ", "PJSC Transneft", "ja.wikipedia title 'トランスネフチ'"),
    ("ja", "スルグトネフチェガス", "Surgutneftegas", "ja.wikipedia title 'スルグトネフチェガス'"),
    ("ja", "ソヴコムフロート", "JSC SOVCOMFLOT", "ja.wikipedia title 'ソヴコムフロート'"),
    ("ja", "ロステレコム", "ROSTELECOM", "ja.wikipedia title 'ロステレコム'"),
    ("ja", "イリューシン", "PAO Ilyushin", "ja.wikipedia title 'イリューシン'"),
    ("ja", "アエロフロート", "PJSC AEROFLOT", "ja.wikipedia title 'アエロフロート・ロシア航空' (short form)"),
    ("ja", "クロンシュタット", "Kronshtadt", "standard katakana of Kronshtadt (ja.wikipedia 'クロンシュタット')"),
    ("ja", "アルファ銀行", "ALFA-BANK", "ja.wikipedia title 'アルファ銀行' (銀行 = bank)"),
    ("ja", "イラン航空", "IRAN AIR", "ja.wikipedia title 'イラン航空' (航空 = air)"),
    ("ja", "ウラル航空", "URAL AIRLINES JSC", "ja.wikipedia title 'ウラル航空'"),
    ("ja", "センスタイム", "Sense Time|Sensetime Group Limited",
     "SenseTime Japan's own name (センスタイムジャパン); both list entries are SenseTime (the Beijing company's "
     "alias 'Sense Time'; the group, HKEX 0020, on the NS-CMIC list)"),
    ("ja", "ダーファ・テクノロジー", "Dahua Technology", "Dahua Technology Japan's own name (ダーファ・テクノロジー・ジャパン)"),
    ("ko", "로스네프트", "Rosneft", "ko.wikipedia title '로스네프트'"),
    ("ko", "루코일", "Lukoil", "ko.wikipedia title '루코일'"),
    ("ko", "스베르방크", "PJSC SBERBANK", "ko.wikipedia title '스베르방크'"),
    ("ko", "트란스네프트", "PJSC Transneft", "NIKL loanword orthography of Transneft"),
    ("ko", "로스텔레콤", "ROSTELECOM", "ko.wikipedia title '로스텔레콤'"),
    ("ko", "일류신", "PAO Ilyushin", "ko.wikipedia title '일류신'"),
    ("ko", "아에로플로트", "PJSC AEROFLOT", "ko.wikipedia title '아에로플로트'"),
    ("ko", "수르구트네프테가스", "Surgutneftegas", "NIKL loanword orthography of Surgutneftegas"),
    ("ko", "칼라시니코프 콘체른", "Kalashnikov Concern", "ko.wikipedia title '칼라시니코프 콘체른' (whole title)"),
    ("ko", "이란항공", "IRAN AIR", "ko.wikipedia title '이란 항공' (항공 = air), written as one word"),
    ("ko", "고려항공", "AIR KORYO", "ko.wikipedia title '고려항공' (고려 = Koryo, 항공 = air)"),
    ("ko", "정찰총국", "CHONGCH'AL CH'ONGGUK", "ko.wikipedia title '정찰총국' (the list's McCune-Reischauer alias)"),
    ("ko", "센스타임", "Sense Time|Sensetime Group Limited", "Korean press name of SenseTime (both entries, as ja)"),
    ("ko", "다후아 테크놀로지", "Dahua Technology", "Korean press name of Dahua Technology"),
    ("ko", "크론시타트", "Kronshtadt", "NIKL loanword orthography of Kronshtadt (ko.wikipedia '크론시타트')"),
    ("ru", "Роснефть", "Rosneft", "the company's Russian name"),
    ("ru", "Лукойл", "Lukoil", "the company's Russian name"),
    ("ru", "Сбербанк", "PJSC SBERBANK", "the bank's Russian name"),
    ("ru", "Транснефть", "PJSC Transneft", "the company's Russian name"),
    ("ru", "Ростелеком", "ROSTELECOM", "the company's Russian name"),
    ("ru", "Совкомфлот", "JSC SOVCOMFLOT", "the company's Russian name"),
    ("ru", "Аэрофлот", "PJSC AEROFLOT", "the airline's Russian name"),
    ("ru", "Сургутнефтегаз", "Surgutneftegas", "the company's Russian name"),
    ("ru", "Альфа-Банк", "ALFA-BANK", "the bank's Russian name"),
    ("ru", "Промсвязьбанк", "PROMSVYAZBANK PJSC", "the bank's Russian name"),
    ("ru", "Кронштадт", "Kronshtadt", "the company's Russian name (АО «Кронштадт»)"),
    ("ru", "Уральские авиалинии", "URAL AIRLINES JSC", "the airline's Russian name"),
    ("fa", "بانک رفاه کارگران", "BANK REFAH KARGARAN", "the bank's Persian name"),
    ("fa", "بانک کشاورزی", "BANK KESHAVARZI", "the bank's Persian name"),
    ("fa", "بانک مسکن", "BANK MASKAN", "the bank's Persian name"),
    ("fa", "بانک پارسیان", "PARSIAN BANK", "the bank's Persian name"),
    ("fa", "بانک پاسارگاد", "BANK PASARGAD", "the bank's Persian name"),
    ("fa", "بانک سینا", "BANK SINA", "the bank's Persian name"),
    ("fa", "بانک کارآفرین", "KARAFARIN BANK", "the bank's Persian name"),
    ("fa", "بانک اقتصاد نوین", "BANK EGHTESAD NOVIN", "the bank's Persian name"),
    ("fa", "پست بانک ایران", "POST BANK OF IRAN", "the bank's Persian name"),
    ("fa", "بانک توسعه صادرات ایران", "BANK TOSEE SADERAT IRAN", "the bank's Persian name"),
    ("fa", "بانک توسعه تعاون", "TOSEE TAAVON BANK", "the bank's Persian name"),
    ("fa", "شرکت ملی نفت ایران", "NATIONAL IRANIAN OIL COMPANY", "the company's Persian name"),
    ("fa", "کشتیرانی جمهوری اسلامی ایران", "ISLAMIC REPUBLIC OF IRAN SHIPPING LINES", "the company's Persian name"),
    ("fa", "سپاه پاسداران انقلاب اسلامی", "SEPAH-E PASDARAN-E ENQELAB-E ESLAMI", "fa.wikipedia title (the list's alias)"),
    ("fa", "صنایع الکترونیک ایران", "SANAYE ELECTRONIC IRAN", "the company's Persian name (the list's alias)"),
    ("fa", "فولاد مبارکه اصفهان", "ESFAHAN'S MOBARAKEH STEEL COMPANY", "the company's Persian name"),
    ("fa", "روس‌نفت", "Rosneft", "fa.wikipedia title 'روس‌نفت'"),
    ("fa", "لوک‌اویل", "Lukoil", "fa.wikipedia title 'لوک‌اویل'"),
    ("fa", "کاسپرسکی", "Kaspersky", "fa.wikipedia title 'کاسپرسکی'"),
]


# Round 5 (issue 11, h39, 2026-11-29): a NEW held-out set, every row held out ('<lang>_heldout2'), written from the
# embedded CSL BEFORE any code or data change of this round and not used to change code or data (the misses of the
# older held-out rows were studied for their CLASS of defect; these rows then measure whether the class fixes
# generalise). Each target was checked to be a name or alias on the embedded CSL. Sources: the entity's own name in
# the language (Chinese registered names, the Russian names of Russian companies, the Persian names of Iranian
# banks and organisations, the Korean names of DPRK entities), or the usual transliteration of its Latin name into
# katakana / hangul as the Japanese and Korean press write Russian and Chinese company names. Rows whose name was
# already in the data files or the tests (han_names.txt lists the Chinese names of many listed groups and
# universities; 조선광업개발무역회사 is in tests/test_renderings.py) were replaced by others before any change, as they
# measure nothing held out.
RENDERINGS_R5: list[tuple[str, str, str, str]] = [
    ("zh_heldout2", "电子科技大学", "University of Electronic Science and Technology of China", "zh.wikipedia title"),
    ("zh_heldout2", "北京邮电大学", "Beijing University of Posts and Telecommunications (BUPT)", "zh.wikipedia title"),
    ("zh_heldout2", "天津大学", "Tianjin University", "zh.wikipedia title"),
    ("zh_heldout2", "中山大学", "Sun Yat-Sen University", "zh.wikipedia title"),
    ("zh_heldout2", "福建省晋华集成电路有限公司", "Fujian Jinhua Integrated Circuit Company, Ltd.", "the company's Chinese name"),
    ("zh_heldout2", "中国运载火箭技术研究院", "China Academy of Launch Vehicle Technology", "zh.wikipedia title"),
    ("zh_heldout2", "中国电子科学研究院", "China Academy of Electronics and Information Technology", "the academy's Chinese name"),
    ("zh_heldout2", "烽火科技集团有限公司", "FiberHome Technologies Group", "the company's Chinese name"),
    ("zh_heldout2", "昆仑银行股份有限公司", "BANK OF KUNLUN CO LTD", "the bank's Chinese name"),
    ("zh_heldout2", "中国兵器装备集团有限公司", "China South Industries Group Corporation", "the company's Chinese name"),
    ("zh_heldout2", "北京北方华创微电子装备有限公司", "Beijing Naura Microelectronics Equipment Co., Ltd.", "the company's Chinese name"),
    ("zh_heldout2", "江苏亨通光电股份有限公司", "Jiangsu Hengtong Optic-Electric Co., Ltd.", "the company's Chinese name"),
    ("zh_heldout2", "上海海思技术有限公司", "Shanghai Haisi Technology Co., Ltd.", "the company's Chinese name"),
    ("zh_heldout2", "北京华峰测控技术股份有限公司", "Beijing Huafeng Test & Control Technology Co., Ltd.", "the company's Chinese name"),
    ("zh_heldout2", "四川大学", "Sichuan University", "zh.wikipedia title"),
    ("zh_heldout2", "上海微电子装备（集团）股份有限公司", "Shanghai Micro Electronics Equipment (Group) Co., Ltd.", "the company's Chinese name"),
    ("zh_heldout2", "北京华大九天科技股份有限公司", "Beijing Huada Jiutian Technology Co., Ltd.", "the company's Chinese name"),
    ("zh_heldout2", "深圳华大基因研究院", "Shenzhen Huada Gene Research Institute", "the institute's Chinese name"),
    ("zh_heldout2", "依图科技", "Yitu Technologies", "the company's Chinese short name"),
    ("zh_heldout2", "厦门美亚柏科信息股份有限公司", "Xiamen Meiya Pico Information Co. Ltd.", "the company's Chinese name"),
    ("ja_heldout2", "ガスプロムバンク", "GAZPROMBANK JOINT STOCK COMPANY", "katakana of Gazprombank (Japanese press)"),
    ("ja_heldout2", "ガスプロム・ネフチ", "Gazprom Neft", "katakana of Gazprom Neft (Japanese press)"),
    ("ja_heldout2", "ノヴァテク", "Novatek", "katakana of Novatek (Japanese press)"),
    ("ja_heldout2", "アルロサ", "PUBLIC JOINT STOCK COMPANY ALROSA", "katakana of Alrosa (Japanese press)"),
    ("ja_heldout2", "ソヴコムバンク", "SOVCOMBANK OPEN JOINT STOCK COMPANY", "katakana of Sovcombank"),
    ("ja_heldout2", "ミクロン", "PJSC Mikron", "katakana of Mikron"),
    ("ja_heldout2", "ハルビン工業大学", "Harbin Institute of Technology", "the university's Japanese name (ja.wikipedia)"),
    ("ja_heldout2", "ロシア鉄道", "Russian Railways", "the company's Japanese name (ja.wikipedia; 鉄道 = railways)"),
    ("ja_heldout2", "メグビー", "Megvii Technology", "katakana of Megvii (Megvii Japan)"),
    ("ja_heldout2", "ワグネル・グループ", "Wagner Group", "the Japanese press name of the Wagner Group"),
    ("ja_heldout2", "ロシアン・ヘリコプターズ", "Russian Helicopters JSC", "katakana of Russian Helicopters"),
    ("ja_heldout2", "イラン国営石油会社", "NATIONAL IRANIAN OIL COMPANY", "the company's Japanese name (ja.wikipedia)"),
    ("ko_heldout2", "가스프롬방크", "GAZPROMBANK JOINT STOCK COMPANY", "hangul of Gazprombank (Korean press)"),
    ("ko_heldout2", "가스프롬 네프트", "Gazprom Neft", "hangul of Gazprom Neft (Korean press)"),
    ("ko_heldout2", "노바텍", "Novatek", "hangul of Novatek (Korean press)"),
    ("ko_heldout2", "알로사", "PUBLIC JOINT STOCK COMPANY ALROSA", "hangul of Alrosa (Korean press)"),
    ("ko_heldout2", "소브콤방크", "SOVCOMBANK OPEN JOINT STOCK COMPANY", "NIKL loanword orthography of Sovcombank"),
    ("ko_heldout2", "고려신용개발은행", "KORYO CREDIT DEVELOPMENT BANK", "the DPRK name of the bank (Korean)"),
    ("ko_heldout2", "조선련봉총회사", "KOREA RYONBONG GENERAL CORPORATION", "the DPRK name of the corporation (Korean)"),
    ("ko_heldout2", "조선대성은행", "KOREA DAESONG BANK", "the DPRK name of the bank (Korean; the list's alias CHOSON TAESONG UNHAENG)"),
    ("ko_heldout2", "원양해운관리회사", "OCEAN MARITIME MANAGEMENT COMPANY LIMITED", "the DPRK name of OMM (Korean)"),
    ("ko_heldout2", "청천강해운", "CHONGCHONGANG SHIPPING COMPANY LIMITED", "the DPRK name of the company (Korean)"),
    ("ko_heldout2", "조선무역은행", "KOREA TRADE BANK", "the DPRK name of the Foreign Trade Bank (Korean)"),
    ("ko_heldout2", "하얼빈 공업 대학", "Harbin Institute of Technology", "ko.wikipedia title"),
    ("ru_heldout2", "Газпромбанк", "GAZPROMBANK JOINT STOCK COMPANY", "the bank's Russian name"),
    ("ru_heldout2", "Газпром нефть", "Gazprom Neft", "the company's Russian name"),
    ("ru_heldout2", "Новатэк", "Novatek", "the company's Russian name (ПАО «Новатэк»)"),
    ("ru_heldout2", "Алроса", "PUBLIC JOINT STOCK COMPANY ALROSA", "the company's Russian name"),
    ("ru_heldout2", "Совкомбанк", "SOVCOMBANK OPEN JOINT STOCK COMPANY", "the bank's Russian name"),
    ("ru_heldout2", "Микрон", "PJSC Mikron", "the company's Russian name"),
    ("ru_heldout2", "Ангстрем", "JOINT STOCK COMPANY ANGSTREM", "the company's Russian name"),
    ("ru_heldout2", "Байкал Электроникс", "Baikal Electronics", "the company's Russian name"),
    ("ru_heldout2", "Российские железные дороги", "Russian Railways", "the company's Russian name"),
    ("ru_heldout2", "Объединённая судостроительная корпорация", "United Shipbuilding Corporation", "the company's Russian name"),
    ("ru_heldout2", "Объединённая двигателестроительная корпорация", "JOINT STOCK COMPANY UNITED ENGINE CORPORATION",
     "the company's Russian name"),
    ("ru_heldout2", "Корпорация «Тактическое ракетное вооружение»", "TACTICAL MISSILES CORPORATION JSC", "the company's Russian name"),
    ("ru_heldout2", "Вертолёты России", "VERTOLETY ROSSII AO", "the company's Russian name"),
    # MIPT is on the Entity List and the SDN list (whose entry has the alias MOSKOVSKIY FIZIKO TEKHNICHESKIY
    # INSTITUT): both entries are the institute; the second was added to the target after the first run, which
    # found it and counted a miss
    ("ru_heldout2", "Московский физико-технический институт", "Moscow Institute of Physics and Technology|"
     "FEDERAL STATE INSTITUTION OF HIGHER VOCATIONAL EDUCATION MOSCOW INSTITUTE OF PHYSICS AND TECHNOLOGY",
     "the institute's Russian name"),
    ("ru_heldout2", "Банк ВТБ", "VTB BANK PUBLIC JOINT STOCK COMPANY", "the bank's Russian name"),
    ("fa_heldout2", "بانک مرکزی ایران", "BANK MARKAZI JOMHOURI ISLAMI IRAN", "the bank's Persian name (short form)"),
    ("fa_heldout2", "بانک صنعت و معدن", "BANK OF INDUSTRY AND MINE", "the bank's Persian name"),
    ("fa_heldout2", "بانک قوامین", "GHAVAMIN BANK", "the bank's Persian name"),
    ("fa_heldout2", "بانک انصار", "ANSAR BANK", "the bank's Persian name"),
    ("fa_heldout2", "بانک حکمت ایرانیان", "HEKMAT IRANIAN BANK", "the bank's Persian name"),
    ("fa_heldout2", "بانک خاورمیانه", "KHAVARMIANEH BANK", "the bank's Persian name"),
    ("fa_heldout2", "بانک آینده", "AYANDEH BANK", "the bank's Persian name"),
    ("fa_heldout2", "بانک دی", "DAY BANK", "the bank's Persian name"),
    ("fa_heldout2", "بانک سرمایه", "SARMAYEH BANK", "the bank's Persian name"),
    ("fa_heldout2", "بانک گردشگری", "TOURISM BANK", "the bank's Persian name"),
    ("fa_heldout2", "قرارگاه سازندگی خاتم‌الانبیاء", "KHATAM OL ANBIA GHARARGAH SAZANDEGI NOOH",
     "the organisation's Persian name"),
    ("fa_heldout2", "سازمان صنایع هوافضا", "AEROSPACE INDUSTRIES ORGANIZATION", "the organisation's Persian name"),
    ("fa_heldout2", "سازمان صنایع دفاع", "DEFENSE INDUSTRIES ORGANIZATION", "the organisation's Persian name"),
    ("fa_heldout2", "سازمان انرژی اتمی ایران", "ATOMIC ENERGY ORGANIZATION OF IRAN", "the organisation's Persian name"),
    ("fa_heldout2", "هواپیمایی معراج", "MERAJ AIR", "the airline's Persian name"),
    ("fa_heldout2", "شرکت ملی نفتکش ایران", "NATIONAL IRANIAN TANKER COMPANY", "the company's Persian name"),
]


# Round 5b (issue 11, h39, 2026-11-29 01:40 UTC): after the round-5 changes left RENDERINGS_R5 unchanged, its misses
# were studied for their classes (so from then on RENDERINGS_R5 is no longer held out); this third held-out set
# ('<lang>_heldout3', ja/ko/ru/fa: no Chinese changes were made after the round-5 rows were seen) was written before
# the changes that study led to, the same way: each target checked on the embedded CSL ('A|B': the same entity on
# two lists), names not in the data files or tests.
RENDERINGS_R5B: list[tuple[str, str, str, str]] = [
    ("ru_heldout3", "КАМАЗ", "KAMAZ PUBLICLY TRADED COMPANY", "the company's Russian name (ПАО «КАМАЗ»)"),
    ("ru_heldout3", "Севмаш", "PRODUCTION ASSOCIATION SEVMASH|JSC PO Sevmash", "the company's Russian name"),
    ("ru_heldout3", "Позитив Текнолоджиз", "Positive Technologies|Aktsionernoe Obshchestvo Pozitiv Teknolodzhiz",
     "the company's Russian name"),
    ("ru_heldout3", "РусГидро", "PUBLIC JOINT STOCK COMPANY RUSHYDRO", "the company's Russian name"),
    ("ru_heldout3", "Росбанк", "PUBLIC JOINT STOCK COMPANY ROSBANK", "the bank's Russian name"),
    ("ru_heldout3", "Банк «Открытие»", "OTKRITIE BANK", "the bank's Russian name"),
    ("ru_heldout3", "Концерн «Созвездие»", "JOINT STOCK COMPANY CONCERN SOZVEZDIE", "the company's Russian name"),
    ("ru_heldout3", "Адмиралтейские верфи", "JOINT STOCK COMPANY ADMIRALTY SHIPYARDS", "the company's Russian name"),
    ("ru_heldout3", "Банк «Россия»", "BANK ROSSIYA", "the bank's Russian name"),
    ("ru_heldout3", "Авиакомпания «Победа»", "LIMITED LIABILITY COMPANY AVIAKOMPANIYA POBEDA|POBEDA AIRLINES",
     "the airline's Russian name"),
    ("ru_heldout3", "МТС Банк", "PUBLIC JOINT STOCK COMPANY MTS BANK", "the bank's Russian name"),
    ("ru_heldout3", "Т-Платформы", "T-PLATFORMS", "the company's Russian name"),
    ("ja_heldout3", "カマズ", "KAMAZ PUBLICLY TRADED COMPANY", "katakana of KAMAZ"),
    ("ja_heldout3", "ロスバンク", "PUBLIC JOINT STOCK COMPANY ROSBANK", "katakana of Rosbank"),
    ("ja_heldout3", "ルスギドロ", "PUBLIC JOINT STOCK COMPANY RUSHYDRO", "katakana of RusHydro (ja.wikipedia 'ルスギドロ')"),
    ("ja_heldout3", "ポジティブ・テクノロジーズ", "Positive Technologies", "katakana of Positive Technologies"),
    ("ja_heldout3", "ポベダ航空", "POBEDA AIRLINES", "the airline's Japanese name (航空 = airlines)"),
    ("ja_heldout3", "ロシア銀行", "BANK ROSSIYA", "the bank's Japanese name (銀行 = bank)"),
    ("ja_heldout3", "セヴマシュ", "PRODUCTION ASSOCIATION SEVMASH|JSC PO Sevmash", "katakana of Sevmash"),
    ("ko_heldout3", "카마즈", "KAMAZ PUBLICLY TRADED COMPANY", "hangul of KAMAZ"),
    ("ko_heldout3", "로스방크", "PUBLIC JOINT STOCK COMPANY ROSBANK", "hangul of Rosbank"),
    ("ko_heldout3", "루스기드로", "PUBLIC JOINT STOCK COMPANY RUSHYDRO", "hangul of RusHydro"),
    ("ko_heldout3", "포지티브 테크놀로지스", "Positive Technologies", "hangul of Positive Technologies"),
    ("ko_heldout3", "포베다 항공", "POBEDA AIRLINES", "the airline's Korean name (항공 = airlines)"),
    ("ko_heldout3", "조선중앙은행", "CENTRAL BANK OF THE DEMOCRATIC PEOPLE'S REPUBLIC OF KOREA", "the DPRK bank's Korean name"),
    ("ko_heldout3", "조선광선은행", "KOREA KWANGSON BANKING CORP", "the DPRK bank's Korean name"),
    ("ko_heldout3", "조선민족보험총회사", "KOREA NATIONAL INSURANCE CORPORATION", "the DPRK company's Korean name"),
    ("ko_heldout3", "금별무역회사", "KOREA KUMBYOL TRADING COMPANY|KUMBYOL TRADING", "the DPRK company's Korean name"),
    ("ko_heldout3", "해성무역회사", "HESONG TRADING CORPORATION", "the DPRK company's Korean name"),
    ("fa_heldout3", "گروه صنعتی شهید همت", "Shahid Hemmat Industrial Group", "the group's Persian name"),
    ("fa_heldout3", "گروه صنعتی شهید باکری", "Shahid Bakeri Industrial Group", "the group's Persian name"),
    ("fa_heldout3", "صنایع هواپیماسازی ایران", "IRAN AIRCRAFT MANUFACTURING INDUSTRIAL COMPANY", "HESA's Persian name"),
    ("fa_heldout3", "صنایع هوایی قدس", "QODS AVIATION INDUSTRIES", "the company's Persian name"),
    ("fa_heldout3", "صنایع هوایی شاهد", "Shahed Aviation Industries", "the company's Persian name"),
    ("fa_heldout3", "بنیاد مستضعفان", "ISLAMIC REVOLUTION MOSTAZAFAN FOUNDATION", "the foundation's Persian name"),
    ("fa_heldout3", "آستان قدس رضوی", "ASTAN QUDS RAZAVI", "the foundation's Persian name"),
    ("fa_heldout3", "ستاد اجرایی فرمان امام", "EXECUTION OF IMAM KHOMEINI'S ORDER", "Setad's Persian name"),
    ("fa_heldout3", "شرکت نفت و گاز پارس", "PARS OIL AND GAS COMPANY", "the company's Persian name"),
    ("fa_heldout3", "شرکت بازرگانی پتروشیمی", "IRAN PETROCHEMICAL COMMERCIAL COMPANY", "the company's Persian name"),
    ("fa_heldout3", "نیروی مقاومت بسیج", "BASIJ RESISTANCE FORCE", "the force's Persian name"),
]


# Round 6 (issue 11, h47, 2026-11-29 03:50 UTC): held-out set 4 ('<lang>_heldout4'), every row held out, written
# BEFORE any code or data change of this round and never used to change code or data (the round's changes are
# driven by the classes of misses of the older sets, RENDERINGS_R5 and RENDERINGS_R5B). Each row is a real list
# entry (checked to be a name or alias on the embedded CSL; 'A|B': the same entity under two spellings or on two
# lists) written the way a customer in the country would write it: the entity's own name in its language (Russian
# companies and institutes, Iranian banks and organisations, the DPRK names of DPRK trading companies and banks,
# Chinese registered names), or the Japanese / Korean press form (katakana / hangul loanword spelling, with the
# kanji or Korean words for bank, aviation, university, design bureau, electronics industries ...). Rows whose
# name is in the data files, the tests or an earlier set were not chosen.
RENDERINGS_R6: list[tuple[str, str, str, str]] = [
    ("ja_heldout4", "ノヴィコムバンク", "JOINT STOCK COMMERCIAL BANK NOVIKOMBANK", "katakana of Novikombank"),
    ("ja_heldout4", "カザン・ヘリコプターズ", "PJSC Kazan Helicopters", "katakana of Kazan Helicopters"),
    ("ja_heldout4", "ロストヴェルトル", "PAO Rostvertol|ROSTVERTOL PJSC", "katakana of Rostvertol"),
    ("ja_heldout4", "モスクワ航空大学", "Moscow Aviation Institute", "ja.wikipedia title 'モスクワ航空大学'"),
    ("ja_heldout4", "ルスエレクトロニクス", "Ruselectronics JSC|JSC RUSELECTRONICS", "katakana of Ruselectronics"),
    ("ja_heldout4", "スホーイ設計局", "Sukhoi Design Bureau", "the Japanese name (設計局 = design bureau)"),
    ("ja_heldout4", "ヤコヴレフ設計局", "JSC Yakovlev Design Bureau", "the Japanese name (ja.wikipedia 'ヤコヴレフ設計局')"),
    ("ja_heldout4", "朝鮮貿易銀行", "KOREA TRADE BANK", "the Japanese name of the DPRK bank (kanji)"),
    ("ja_heldout4", "朝鮮中央銀行", "CENTRAL BANK OF THE DEMOCRATIC PEOPLE'S REPUBLIC OF KOREA", "the Japanese name (kanji)"),
    ("ja_heldout4", "ハルビン工程大学", "Harbin Engineering University", "ja.wikipedia title 'ハルビン工程大学'"),
    ("ja_heldout4", "カンブリコン", "Cambricon", "katakana of Cambricon (Japanese press)"),
    ("ja_heldout4", "ムーア・スレッズ", "Moore Threads", "katakana of Moore Threads (Japanese press)"),
    ("ja_heldout4", "イラン中央銀行", "CENTRAL BANK OF IRAN", "ja.wikipedia title 'イラン中央銀行'"),
    ("ja_heldout4", "テジャラト銀行", "BANK TEJARAT|TEJARAT BANK", "the Japanese press name (銀行 = bank)"),
    ("ko_heldout4", "조선단군무역회사", "KOREA TANGUN TRADING CORPORATION", "the DPRK company's Korean name"),
    ("ko_heldout4", "조선혁신무역회사", "KOREA HYOKSIN TRADING CORPORATION", "the DPRK company's Korean name"),
    ("ko_heldout4", "조선부강무역회사", "KOREA PUGANG TRADING CORPORATION", "the DPRK company's Korean name"),
    ("ko_heldout4", "남천강무역회사", "NAMCHONGANG TRADING CORPORATION", "the DPRK company's Korean name"),
    ("ko_heldout4", "조선흥진무역회사", "KOREA HEUNGJIN TRADING COMPANY", "the DPRK company's Korean name"),
    ("ko_heldout4", "대동신용은행", "DAEDONG CREDIT BANK", "the bank's Korean name"),
    ("ko_heldout4", "일심국제은행", "ILSIM INTERNATIONAL BANK", "the DPRK bank's Korean name"),
    ("ko_heldout4", "압록강개발은행", "AMROGGANG DEVELOPMENT BANK|AMNOKKANG DEVELOPMENT BANK", "the DPRK bank's Korean name"),
    ("ko_heldout4", "조선백호무역회사", "KOREA PAEKHO TRADING CORPORATION", "the DPRK company's Korean name"),
    ("ko_heldout4", "만수대창작사", "MANSUDAE ART STUDIO", "the studio's Korean name"),
    ("ko_heldout4", "조선금산무역회사", "KOREA KUMSAN TRADING CORPORATION", "the DPRK company's Korean name"),
    ("ko_heldout4", "카잔 헬리콥터", "PJSC Kazan Helicopters", "hangul of Kazan Helicopters (Korean press)"),
    ("ko_heldout4", "캄브리콘", "Cambricon", "hangul of Cambricon (Korean press)"),
    ("ko_heldout4", "테자라트 은행", "BANK TEJARAT|TEJARAT BANK", "the Korean press name (은행 = bank)"),
    ("ko_heldout4", "모스크바 항공 대학교", "Moscow Aviation Institute", "ko.wikipedia title '모스크바 항공 대학교'"),
    ("ru_heldout4", "Новикомбанк", "JOINT STOCK COMMERCIAL BANK NOVIKOMBANK", "the bank's Russian name"),
    ("ru_heldout4", "Совфрахт", "OJSC Sovfracht", "the company's Russian name"),
    ("ru_heldout4", "Казанский вертолётный завод", "Kazan Helicopter Plant PJSC", "the company's Russian name"),
    ("ru_heldout4", "Роствертол", "PAO Rostvertol|ROSTVERTOL PJSC", "the company's Russian name"),
    ("ru_heldout4", "Московский авиационный институт", "Moscow Aviation Institute", "the institute's Russian name"),
    ("ru_heldout4", "МГТУ им. Н. Э. Баумана", "MOSCOW STATE TECHNICAL UNIVERSITY NAMED AFTER NE BAUMAN",
     "the university's usual Russian short name"),
    ("ru_heldout4", "Росэлектроника", "Ruselectronics JSC|JSC RUSELECTRONICS", "the company's Russian name"),
    ("ru_heldout4", "Концерн «Радиоэлектронные технологии»", "Concern Radio-Electronic Technologies",
     "the company's Russian name"),
    ("ru_heldout4", "НПО «Высокоточные комплексы»", "JSC NPO HIGH PRECISION SYSTEMS", "the company's Russian name"),
    ("ru_heldout4", "ОКБ Сухого", "Sukhoi Design Bureau|Sukhoi OKB", "the bureau's Russian name"),
    ("ru_heldout4", "ОКБ имени А. С. Яковлева", "JSC Yakovlev Design Bureau|AO OKB Im. A.S. Yakovleva",
     "the bureau's Russian name"),
    ("ru_heldout4", "Уральский завод гражданской авиации", "Joint Stock Company Ural Works of Civil Aviation",
     "the company's Russian name"),
    ("ru_heldout4", "Институт теоретической и экспериментальной физики", "Institute of Theoretical and Experimental Physics",
     "the institute's Russian name"),
    ("fa_heldout4", "بانک تجارت", "BANK TEJARAT|TEJARAT BANK", "the bank's Persian name"),
    ("fa_heldout4", "بانک مهر", "MEHR BANK", "the bank's Persian name"),
    ("fa_heldout4", "بانک ایران زمین", "IRAN ZAMIN BANK", "the bank's Persian name"),
    ("fa_heldout4", "دانشگاه صنعتی مالک اشتر", "MALEK ASHTAR UNIVERSITY OF TECHNOLOGY", "the university's Persian name"),
    ("fa_heldout4", "دانشگاه جامع امام حسین", "IMAM HOSSEIN UNIVERSITY", "the university's Persian name"),
    ("fa_heldout4", "صنایع الکترونیک شیراز", "SHIRAZ ELECTRONICS INDUSTRIES", "the company's Persian name"),
    ("fa_heldout4", "صنایع مخابرات ایران", "IRAN COMMUNICATION INDUSTRIES", "the company's Persian name"),
    ("fa_heldout4", "شرکت صنعتی دریایی ایران", "IRAN MARINE INDUSTRIAL COMPANY, SADRA", "SADRA's Persian name"),
    ("fa_heldout4", "پتروشیمی مبین", "MOBIN PETROCHEMICAL COMPANY", "the company's Persian name"),
    ("fa_heldout4", "صنایع پتروشیمی خلیج فارس", "PERSIAN GULF PETROCHEMICAL INDUSTRY CO.", "the company's Persian name"),
    ("fa_heldout4", "سازمان فضایی ایران", "IRAN SPACE AGENCY", "the agency's Persian name"),
    ("fa_heldout4", "پژوهشگاه فضایی ایران", "IRAN SPACE RESEARCH CENTER", "the centre's Persian name"),
    ("fa_heldout4", "وزارت دفاع و پشتیبانی نیروهای مسلح", "MINISTRY OF DEFENSE AND ARMED FORCES LOGISTICS",
     "the ministry's Persian name"),
    ("fa_heldout4", "بنیاد تعاون سپاه", "BONYAD TAAVON SEPAH", "the foundation's Persian name"),
    ("fa_heldout4", "فولاد خوزستان", "KHOUZESTAN STEEL COMPANY|KHUZESTAN STEEL COMPANY", "the company's Persian name"),
    ("zh_heldout4", "同方威视技术股份有限公司", "Tongfang NucTech Technology Ltd.", "the company's Chinese name"),
    ("zh_heldout4", "中科寒武纪科技股份有限公司", "Cambricon Technologies Corporation Limited", "the company's Chinese name"),
    ("zh_heldout4", "摩尔线程智能科技（北京）有限责任公司", "Moore Thread Intelligent Technology (Beijing) Co., Ltd.",
     "the company's Chinese name"),
    ("zh_heldout4", "北京壁仞科技开发有限公司", "Beijing Biren Technology Development Co., Ltd.", "the company's Chinese name"),
    ("zh_heldout4", "军事医学科学院", "Academy of Military Medical Sciences", "the academy's Chinese name"),
    ("zh_heldout4", "成都飞机设计研究所", "Chengdu Aircraft Design and Research Institute", "the institute's Chinese name"),
    ("zh_heldout4", "北京航空制造工程研究所", "Beijing Aeronautical Manufacturing Technology Research Institute",
     "the institute's Chinese name"),
    ("zh_heldout4", "沈阳飞机工业（集团）有限公司", "Shenyang Aircraft Corporation", "the company's Chinese name"),
    ("zh_heldout4", "昆仑航运有限公司", "KUNLUN SHIPPING COMPANY LIMITED", "the company's Chinese name"),
    ("zh_heldout4", "航空计算技术研究所", "Aeronautics Computing Technique Research Institute", "the institute's Chinese name"),
    ("zh_heldout4", "安徽寒武纪信息科技有限公司", "Anhui Cambricon Information Technology Co., Ltd.", "the company's Chinese name"),
    ("zh_heldout4", "杭州壁仞科技开发有限公司", "Hangzhou Biren Technology Development Co., Ltd.", "the company's Chinese name"),
]


# The Latin spelling of what a rendering writes, for renderings of part of a list name or of a brand spelt as
# one word: when the Latin form misses as well, the miss is the matcher's (a one-word brand against a longer list
# name), not the rendering's. Printed next to each miss that has one.
LATIN_CONTROLS: dict[str, str] = {
    "ロステック": "Rostec",
    "칼라시니코프": "Kalashnikov",
    "センスタイム": "Sensetime",
    "센스타임": "Sensetime",
    "ウラル航空": "Ural Air",
    "کشتیرانی جمهوری اسلامی ایران": "Islamic Republic of Iran Shipping",
}


def _round4_rows() -> list[tuple[str, str, str, str]]:
    """RENDERINGS_R4 with every third row of each language held out ('<lang>_heldout')."""
    seen: dict[str, int] = {}
    out = []
    for lang, text, target, source in RENDERINGS_R4:
        i = seen[lang] = seen.get(lang, 0) + 1
        out.append((f"{lang}_heldout" if i % 3 == 0 else lang, text, target, source))
    return out


_LEET = str.maketrans({"a": "4", "A": "4", "e": "3", "E": "3", "i": "1", "I": "1", "o": "0", "O": "0"})


def _lookalikes(script: str) -> dict[str, str]:
    """Latin letter -> one look-alike of ``script`` (from the Unicode confusables data ecscreen ships)."""
    ranges = {"cyrillic": (0x400, 0x4FF), "greek": (0x370, 0x3FF), "cherokee": (0x13A0, 0x13FF)}
    lo, hi = ranges[script]
    out: dict[str, str] = {}
    for src, target in sorted(confusables().items()):
        if lo <= ord(src) <= hi and len(target) == 1 and target.isalpha() and target.isascii():
            out.setdefault(target, src)
    # the 'l' prototype also stands for capital I
    if "I" not in out and "l" in out and script != "cherokee":
        pass
    return out


def _replace_all(name: str, table: dict[str, str]) -> str | None:
    out = "".join(table.get(c, c) for c in name)
    return out if out != name else None


def _longest_word(name: str) -> tuple[int, int] | None:
    best = None
    for m in re.finditer(r"[A-Za-z]{4,}", name):
        if best is None or m.end() - m.start() > best[1] - best[0]:
            best = (m.start(), m.end())
    return best


def _join_letters(sep: str) -> Callable[[str], str | None]:
    def fn(name: str) -> str | None:
        span = _longest_word(name)
        if span is None:
            return None
        a, b = span
        return name[:a] + sep.join(name[a:b]) + name[b:]

    return fn


def _spaced(name: str) -> str | None:
    words = name.split()
    if not any(len(w) >= 3 for w in words):
        return None
    return "  ".join(" ".join(w) for w in words)


def _leet(name: str) -> str | None:
    out = name.translate(_LEET)
    return out if sum(a != b for a, b in zip(out, name, strict=True)) >= 2 else None


def _words(name: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9]+", name)


def _camel(name: str) -> str | None:
    w = _words(name)
    return "".join(x[:1].upper() + x[1:].lower() for x in w) if len(w) >= 2 else None


def _caps(name: str) -> str | None:
    w = _words(name)
    return "".join(w).upper() if len(w) >= 2 else None


def _classes() -> dict[str, Callable[[str], str | None]]:
    cyr, grk, chr_ = _lookalikes("cyrillic"), _lookalikes("greek"), _lookalikes("cherokee")
    return {
        "plain": lambda n: n,
        "rlo": lambda n: "\u202e" + n[::-1],
        "spaced": _spaced,
        "join_underscore": _join_letters("_"),
        "join_dot": _join_letters("."),
        "join_hyphen": _join_letters("-"),
        "join_nbsp": _join_letters("\u00a0"),
        "join_tab": _join_letters("\t"),
        "join_nul": _join_letters("\x00"),
        "cyrillic": lambda n: _replace_all(n, cyr),
        "greek": lambda n: _replace_all(n, grk),
        "cherokee": lambda n: _replace_all(n.upper(), chr_),
        "leet": _leet,
        "run_together_camel": _camel,
        "run_together_caps": _caps,
    }


def _key(text: str) -> tuple[str, ...]:
    return tuple(sorted(normalize(text).tokens))


def _screen(queries: list[str], lists: list[ScreeningList]) -> tuple[list[list[ListEntry]], float]:
    t0 = time.perf_counter()
    res = screen_party_batches(
        [[Party(role=PartyRole.consignee, name=q)] for q in queries], as_of=AS_OF, lists=lists, limit=50
    )
    return [[h.entry for h in ps.hits[0]] for ps in res], time.perf_counter() - t0


def _found(target: ListEntry, hits: list[ListEntry]) -> bool:
    keys = {_key(target.name)}
    return any(h.id == target.id or _key(h.name) in keys for h in hits)


def _report(label: str, n: int, ok: int, misses: list[str], show: int) -> None:
    rate = ok / n if n else float("nan")
    print(f"  {label:<28} {n:>5} {ok:>5}  {rate:6.3f}")
    for m in misses[:show]:
        print(f"      miss: {m!r}")


def section_programmatic(csl: ScreeningList, sample: int, seed: int, show: int, only: set[str] | None) -> None:
    rng = random.Random(seed)
    seen: set[tuple[str, ...]] = set()
    pool: list[ListEntry] = []
    for e in csl.entries:
        if not e.name.isascii() or not 2 <= len(e.name) <= 60 or len(re.sub(r"[^A-Za-z]", "", e.name)) < 4:
            continue
        k = _key(e.name)
        if k and k not in seen:
            seen.add(k)
            pool.append(e)
    picked = rng.sample(pool, min(sample, len(pool)))
    print(f"1. programmatic evasions of {len(picked)} embedded-CSL entries (seed {seed}, of {len(pool)} distinct)")
    print(f"  {'class':<28} {'n':>5} {'found':>5}  recall")
    for label, fn in _classes().items():
        if only and label not in only and label != "plain":
            continue
        pairs = [(e, q) for e in picked if (q := fn(e.name))]
        hits, secs = _screen([q for _, q in pairs], [csl])
        ok = [_found(e, h) for (e, _), h in zip(pairs, hits, strict=True)]
        misses = [f"{q} (target {e.name})" for (e, q), good in zip(pairs, ok, strict=True) if not good]
        _report(label, len(pairs), sum(ok), misses, show)


def _un_original(path: Path) -> list[tuple[str, str, str]]:
    """(reference number, original-script name, script) from the UN consolidated XML."""
    out = []
    root = ET.parse(path).getroot()
    for tag in ("INDIVIDUALS/INDIVIDUAL", "ENTITIES/ENTITY"):
        for el in root.findall(tag):
            orig = (el.findtext("NAME_ORIGINAL_SCRIPT") or "").strip()
            ref = (el.findtext("REFERENCE_NUMBER") or "").strip()
            if not orig or not ref:
                continue
            if re.search(r"[\u0600-\u06ff]", orig):
                out.append((ref, orig, "arabic script"))
            elif re.search(r"[\u0400-\u04ff]", orig):
                out.append((ref, orig, "cyrillic"))
    return out


def section_un(data: Path, show: int) -> None:
    path = data / "un-sc-consolidated-2026-02-27" / "UN_consolidated.xml"
    if not path.exists():
        print(f"2. skipped: {path} not found")
        return
    un = read_list(path)
    originals = _un_original(path)
    orig_names = {o for _, o, _ in originals}
    # the UN list as it would be screened without its original-script aliases
    stripped = [e.model_copy(update={"aliases": [a for a in e.aliases if a not in orig_names]}) for e in un.entries]
    un_latin = lists_mod._make(un.info.name, un.info.source, un.info.date, stripped, un.format, un.path)
    by_id = {e.id: e for e in un_latin.entries}
    print(f"2. UN consolidated list: original-script names vs the list's Latin names ({len(un_latin.entries)} entries)")
    print(f"  {'class':<28} {'n':>5} {'found':>5}  recall")
    for script in ("arabic script", "cyrillic"):
        rows = [(by_id[f"UN-{ref}"], o) for ref, o, s in originals if s == script and f"UN-{ref}" in by_id]
        hits, _ = _screen([o for _, o in rows], [un_latin])
        ok = [_found(e, h) for (e, _), h in zip(rows, hits, strict=True)]
        other = [f"{o} -> {h[0].name}" for (e, o), h in zip(rows, hits, strict=True) if h and not _found(e, h[:1])]
        if other:
            print(f"      best hit not the listed person/entity: {len(other)}: " + "; ".join(other[:show]))
        misses = [f"{o} (target {e.name}; read as '{' '.join(normalize(o).tokens)}')"
                  for (e, o), good in zip(rows, ok, strict=True) if not good]
        _report(f"un_{script.replace(' ', '_')}", len(rows), sum(ok), misses, show)


def section_renderings(csl: ScreeningList, show: int) -> None:
    import opencc

    s2t = opencc.OpenCC("s2t")
    print(f"3. hand-written renderings of listed names ({len(RENDERINGS)}, and {len(RENDERINGS_HELDOUT)} held out; "
          f"round 4: {len(RENDERINGS_R4)}, a third of them held out; round 5: {len(RENDERINGS_R5)} + {len(RENDERINGS_R5B)}; "
          f"round 6: {len(RENDERINGS_R6)} new held out), "
          "embedded CSL")
    print(f"  {'class':<28} {'n':>5} {'found':>5}  recall")
    index: dict[str, list[ListEntry]] = {}
    for e in csl.entries:
        for n in (e.name, *e.aliases):
            index.setdefault(n.casefold(), []).append(e)
    rows: dict[str, list[tuple[str, list[ListEntry]]]] = {}
    for lang, text, target, _source in RENDERINGS + RENDERINGS_HELDOUT + _round4_rows() + RENDERINGS_R5 + RENDERINGS_R5B + RENDERINGS_R6:
        # 'A|B': the rendering names the company two list entries stand for (either found counts)
        targets = [e for t in target.split("|") for e in index.get(t.casefold(), [])]
        if not targets:
            print(f"  (target not on the list: {target!r})")
            continue
        rows.setdefault(lang, []).append((text, targets))
        if lang.startswith("zh"):
            rows.setdefault(lang + "_traditional", []).append((s2t.convert(text), targets))
    totals: dict[str, list[int]] = {}
    for lang, items in rows.items():
        hits, _ = _screen([t for t, _ in items], [csl])
        ok = [any(_found(t, h) for t in targets) for (_, targets), h in zip(items, hits, strict=True)]
        other = [f"{t} -> {h[0].name}" for (t, targets), h in zip(items, hits, strict=True)
                 if h and not any(_found(x, h[:1]) for x in targets)]
        if other:
            print(f"      best hit not the rendered entity: {len(other)}: " + "; ".join(other[:show]))
        missed = [(t, targets) for (t, targets), good in zip(items, ok, strict=True) if not good]
        controls = [(t, LATIN_CONTROLS[t]) for t, _ in missed if t in LATIN_CONTROLS]
        control_hits = dict(zip([t for t, _ in controls], _screen([c for _, c in controls], [csl])[0], strict=True))
        misses = []
        for t, targets in missed:
            line = f"{t} (target {targets[0].name}; read as '{' '.join(normalize(t).tokens)}')"
            if t in control_hits:
                latin_ok = any(_found(x, control_hits[t]) for x in targets)
                line += f" [Latin control '{LATIN_CONTROLS[t]}' {'found' if latin_ok else 'also missed'}]"
            misses.append(line)
        _report(f"rendering_{lang}", len(items), sum(ok), misses, show)
        totals[lang.split("_")[0]] = [a + b for a, b in zip(totals.get(lang.split("_")[0], [0, 0]),
                                                            [len(items), sum(ok)], strict=True)]
    print("  per language, all rows (dev + held out, zh with its traditional forms):")
    for lang, (n, ok_n) in totals.items():
        _report(f"rendering_{lang}_all", n, ok_n, [], 0)


def section_sec(data: Path) -> None:
    path = data / "sec-company-names-2025-08" / "sec_company_names.csv"
    if not path.exists():
        print(f"4. skipped: {path} not found")
        return
    with path.open(encoding="utf-8") as fh:
        names = sorted({r["name"] for r in csv.DictReader(fh)})
    t0 = time.perf_counter()
    res = screen_party_batches(
        [[Party(role=PartyRole.end_user, name=n, country="GB")] for n in names], as_of=AS_OF
    )
    secs = time.perf_counter() - t0
    hit = sum(1 for ps in res if ps.hits[0])
    firm = sum(1 for ps in res if {f.outcome.value for f in ps.findings} & {"license_required", "prohibited"})
    print(f"4. SEC company names as end users in GB: {len(names)} names, {hit} with a hit ({hit / len(names):.2%}), "
          f"{firm} with a licence_required/prohibited finding; {secs:.1f}s")


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path,  # ../shared/data from the repo root (a worktree may sit deeper)
                    default=next((d / "shared" / "data" for d in here.parents if (d / "shared" / "data").is_dir()),
                                 here.parent / "shared" / "data"))
    ap.add_argument("--sample", type=int, default=400)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--show", type=int, default=3, help="misses to print per class")
    ap.add_argument("--classes", default="", help="comma-separated programmatic classes (default: all)")
    ap.add_argument("--sections", default="1,2,3", help="sections to run (1 programmatic, 2 UN, 3 renderings)")
    ap.add_argument("--sec", action="store_true", help="also count false alarms on the SEC company names")
    args = ap.parse_args()
    only = {c.strip() for c in args.classes.split(",") if c.strip()} or None
    csl = load_default()
    t0 = time.perf_counter()
    sections = set(args.sections.split(","))
    if "1" in sections:
        section_programmatic(csl, args.sample, args.seed, args.show, only)
    if "2" in sections:
        section_un(args.data, args.show)
    if "3" in sections:
        section_renderings(csl, args.show)
    if args.sec:
        section_sec(args.data)
    print(f"total {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
