"""Every form of personal data the two simulators plant to defeat plain rules is masked, in Spark as in Python.

The forms come from the generators themselves (``fengqiao.simulator.text.masking_form`` and
``fengqiao.contract_world.phrasing.masking_form``), drawn with fixed seeds, so a new form added to a
simulator is checked here without a drop being written.
"""
from __future__ import annotations

import json
import random

import pytest
from pyspark.sql import functions as F

from fengqiao.contract_world import people
from fengqiao.contract_world import phrasing
from fengqiao.core.privacy import mask_personal_data, mask_raw_record, mask_text
from fengqiao.simulator import text as home_text

DRAWS = 600


def _home_forms() -> list[tuple[str, str, str, str]]:
    r = random.Random("masking-forms-test")
    return [home_text.masking_form(r, "370102", "3701") for _ in range(DRAWS)]


def _contract_forms() -> list[tuple[str, str, str, str]]:
    r = random.Random("contract-masking-forms-test")
    return [phrasing.masking_form(r, people.person(r)) for _ in range(DRAWS)]


WORLDS = {"home": (_home_forms, home_text.MASKING_FORMS), "contract": (_contract_forms, phrasing.MASKING_FORMS)}


def _left(masked: str, value: str, digits: str) -> list[str]:
    return [s for s in (value, digits) if s and s in masked]


@pytest.mark.parametrize("world", sorted(WORLDS))
def test_every_planted_form_is_masked(world):
    draw, forms = WORLDS[world]
    planted = draw()
    assert {f for f, *_ in planted} == set(forms)  # the draws exercise every form
    for form, sentence, value, digits in planted:
        assert value in sentence
        masked = mask_text(f"来电人:{sentence}")
        assert not _left(masked, value, digits), (form, sentence, masked)


@pytest.mark.parametrize("world", sorted(WORLDS))
def test_planted_forms_in_escaped_raw_lines_are_masked(world):
    """A planted sentence in an ASCII-only JSON line cut short, as it reaches quarantine."""
    draw, _ = WORLDS[world]
    for form, sentence, value, digits in draw()[:200]:
        line = json.dumps({"transcript": [{"speaker": "来电人", "text": sentence + "。好的谢谢"}]})[:-8]
        masked = mask_text(line)
        escaped = json.dumps(value)[1:-1]
        assert not _left(masked, value, digits) and (escaped == value or escaped not in masked), (form, masked)


def test_spark_masks_the_planted_forms_as_python_does(spark):
    planted = _home_forms()[:80] + _contract_forms()[:80]
    texts = [f"来电人:{sentence}" for _, sentence, _, _ in planted]
    raws = [json.dumps({"text": t})[:-3] for t in texts]
    df = spark.createDataFrame(list(zip(texts, raws)), "t string, raw string")
    rows = df.select(mask_personal_data(F.col("t")).alias("m"), mask_raw_record(F.col("raw")).alias("r")).collect()
    assert [r["m"] for r in rows] == [mask_text(t) for t in texts]
    assert [r["r"] for r in rows] == [mask_text(x) for x in raws]
