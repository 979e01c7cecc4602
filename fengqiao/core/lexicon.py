"""Words that mark escalation in transcripts, order summaries and 纠纷简介.

Grouped by what they signal (see domain notes: 民转刑, 群体性事件, repeat and escalating contact).
The simulator plants some of these; real transcripts use them too. Issue-specific models may learn
more; this list is the transparent lexicon baseline.
"""
from __future__ import annotations

THREAT_TERMS = ("同归于尽", "拼命", "跟他没完", "要出人命", "不想活了", "弄死", "报复", "砍了他", "鱼死网破")
COLLECTIVE_TERMS = ("集体上访", "堵路", "拉横幅", "找媒体", "联名", "一起去政府", "围堵", "静坐", "上访")
ESCALATION_TERMS: tuple[str, ...] = THREAT_TERMS + COLLECTIVE_TERMS

# Regex alternation for Spark's rlike / DuckDB's regexp_matches (terms hold no regex metacharacters).
ESCALATION_REGEX = "|".join(ESCALATION_TERMS)
