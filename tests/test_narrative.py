"""The narrative parser: Chinese numerals and the claims it recognises."""

from __future__ import annotations

import itertools

import pytest

from workbook_tools import narrative


@pytest.mark.parametrize(
    "text, number",
    [
        ("12", 12),
        ("零", 0),
        ("三", 3),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("两", 2),
        ("一百零五", 105),
        ("几", None),
    ],
)
def test_chinese_numbers(text, number):
    assert narrative.chinese_number(text) == number


def _claims(sentence):
    return [
        (c.what, narrative.chinese_number(m.group(1)))
        for c in narrative.CLAIMS
        for m in c.pattern.finditer(sentence)
    ]


@pytest.mark.parametrize(
    "sentence, claims",
    [
        ("2024年共收到政府信息公开申请12件，上年结转2件。", [("收到申请", 12), ("上年结转", 2)]),
        ("全年受理依申请公开申请十二件。", [("收到申请", 12)]),
        ("结转下年度继续办理1件。", [("结转下年度", 1)]),
        ("发生政府信息公开行政复议2件、行政诉讼1件。", [("行政复议", 2), ("行政诉讼", 1)]),
        ("本年制发行政规范性文件3件。", [("制发规范性文件", 3)]),
        ("现将2024年政务信息公开工作情况报告如下。", []),
    ],
)
def test_claims(sentence, claims):
    assert sorted(_claims(sentence)) == sorted(claims)


def test_sentences_split_on_chinese_punctuation():
    assert list(narrative.sentences("一是公开。二是培训；三是监督\n四是考核")) == [
        "一是公开。",
        "二是培训；",
        "三是监督",
        "四是考核",
    ]


@pytest.mark.parametrize(
    "name",
    [
        "青禾县柳河镇",
        "某省某市青禾县柳河镇",
        "柳河镇",
        "县",
        "青禾县柳",
        "青禾县柳河",
        "青禾县A河镇",
        "北京市朝阳区呼家楼街道",
        "内蒙古自治区某某旗某镇",
        "市区街道",
        "某某\n县柳河镇",
        "区",
        "",
        "旗下镇镇",
    ],
)
def test_a_units_county_is_what_the_pattern_said(name):
    """county_of is a loop in place of ``^(.*?(?:省|市|州|盟|县|区|旗))(?=[\u4e00-\u9fa5]{2,})``
    (whose character range cost start-up time to compile): the same county for every name."""
    import re

    m = re.match(r"^(.*?(?:省|市|州|盟|县|区|旗))(?=[\u4e00-\u9fa5]{2,})", name)
    assert narrative.county_of(name) == (m.group(1) if m else "")


_HEADS = ("", "收到", "受理", "新收", "共收", "上年", "印发", "制定", "行政", "未", "没有")
_MIDDLES = ("", "申请", "依申请", "公开申请", "结转", "至", "下年度", "下一年", "行政复议")
_MIDDLES += ("至下年度", "行政诉讼", "规范性文件", "，")


def test_a_sentence_without_a_claims_needle_has_no_such_claim():
    """Claims are searched only in sentences holding their needle: no match lacks it (nor does
    a "none received" sentence lack 申请). Every sentence of the pieces, in every order."""
    matched = set()
    for head, one, two, number, unit in itertools.product(
        _HEADS, _MIDDLES, _MIDDLES, ("12", "十二", ""), ("件", "起", "")
    ):
        sentence = head + one + two + number + unit
        for claim in narrative.CLAIMS:
            if claim.pattern.search(sentence):
                assert claim.needle in sentence, (claim.what, sentence)
                matched.add(claim.what)
        if narrative._NONE_RECEIVED.search(sentence):
            assert "申请" in sentence, sentence
            matched.add("none received")
    assert len(matched) == len(narrative.CLAIMS) + 1  # every pattern met a sentence it matches
