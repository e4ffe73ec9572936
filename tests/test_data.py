"""The test dumps of tests/data hold each feature the suite relies on, so that
none disappears unnoticed when someone edits them: katakana names, compounds
and their parts, width variants, a repeated headline, signatures, tags,
labels, emoji, links, headline-only items, an item in two dumps, and markup.
They are our own text: none of it is copied from the seed."""

import re
from collections import Counter

import pytest

from search.analysis import fold, japanese_analyzer, katakana
from search.index import storage
from search.ingest.dumps import parse_text, read_dump

from helpers import MARKUP_DUMP, NEWS_DAYS, NEWS_DUMPS, NEWS_ITEMS

ana = japanese_analyzer()
SIGNATURE = re.compile(r"^ドナルド・トランプの真実ソーシャル(ポスト|投稿) \d\d:\d\d [AP]M EST \d\d/\d\d/\d\d$")
EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF]")


@pytest.fixture(scope="module")
def dumps():
    return [read_dump(path, path.name) for path in NEWS_DUMPS]


@pytest.fixture(scope="module")
def items(dumps):
    """Every distinct item of the news dumps (by id), in file order."""
    found = {}
    for dump in dumps:
        for item in dump.items:
            found.setdefault(item.id, item)
    return list(found.values())


def text(item):
    return item.headline + "\n" + item.body


def having(items, word):
    return [item for item in items if word in text(item)]


def test_two_or_three_days_of_30_to_50_items(dumps, items):
    assert 2 <= len(dumps) <= 3
    assert len(items) == NEWS_ITEMS and 30 <= NEWS_ITEMS <= 50
    assert sorted({item.date.isoformat() for item in items}) == list(NEWS_DAYS)
    for dump in dumps:
        assert dump.encoding == "utf-8" and not dump.warnings and not dump.preamble


def test_each_dump_is_labelled_with_its_day(dumps):
    for path, dump in zip(NEWS_DUMPS, dumps):
        assert re.fullmatch(r"#\S+\((\d{6})\)", dump.label), dump.label
        day = path.stem  # 2025-02-17
        assert dump.label.endswith(f"({day[2:4]}{day[5:7]}{day[8:10]})")
        assert all(dump.label not in item.tags for item in dump.items)


def test_the_six_sources(items):
    assert {(item.source, item.handle) for item in items} == {
        ("NHKニュース", "nhk_news"), ("ロイター", "ReutersJapan"),
        ("ブルームバーグニュース", "BloombergJapan"), ("BBC News Japan", "bbcnewsjapan"),
        ("Sputnik 日本", "sputnik_jp"),
        ("Donald J. Trump Posts From His Truth Social", "TrumpDailyPosts")}


@pytest.mark.parametrize("name, count", [("ペスコフ", 3), ("ゼレンスキー", 3), ("ヘグセス", 1)])
def test_katakana_names(items, name, count):
    assert len(having(items, name)) == count


def test_the_three_peskov_items_are_of_one_day_and_three_sources(items):
    peskov = having(items, "ペスコフ")
    assert {item.date.isoformat() for item in peskov} == {"2025-02-18"}
    assert {item.source for item in peskov} == {"ロイター", "NHKニュース", "ブルームバーグニュース"}
    assert all("報道官" in item.body for item in peskov)


def test_a_name_typed_in_hiragana_or_halfway_needs_the_engine(items):
    # ぺすこふ is ペスコフ only once read as katakana; ゼレンスキ is never a word
    # of its own, only the start of ゼレンスキー.
    assert katakana("ぺすこふ") == "ペスコフ"
    assert not having(items, "ぺすこふ")
    whole = "\n".join(text(item) for item in items)
    assert whole.count("ゼレンスキ") == whole.count("ゼレンスキー") > 0


def test_compounds_and_their_parts(items):
    # 防衛費 is one word holding 防衛; 防衛 also stands in items without 防衛費.
    assert "防衛" in [t.text for t in ana("防衛費")]
    with_compound = having(items, "防衛費")
    assert with_compound
    assert any("防衛費" in item.headline for item in with_compound)
    assert [item for item in having(items, "防衛") if item not in with_compound]
    assert len(having(items, "鉱物資源")) == 2
    # モスクワ取引所 is the only 取引所, and no other word reads 取引.
    (exchange,) = having(items, "取引")
    assert "モスクワ取引所" in exchange.body


def test_exact_compound_and_its_words_apart(items):
    # "大統領府報道官" once (a headline), 大統領府 and 報道官 apart in others.
    (exact,) = having(items, "大統領府報道官")
    assert exact.headline.endswith("=大統領府報道官")
    assert having(items, "大統領府の報道官")
    apart = [item for item in items if "大統領府" in text(item) and "報道官" in text(item)]
    assert len(apart) >= 3


def test_latin_in_both_widths_and_half_width_katakana(items):
    half = [item for item in having(items, "NATO") if "NATO" in item.headline]
    assert len(half) >= 3
    (full,) = having(items, "ＮＡＴＯ")
    assert "ＮＡＴＯ" not in full.headline and fold("ＮＡＴＯ") == fold("NATO")
    assert having(items, "ｳｸﾗｲﾅ") and fold("ｳｸﾗｲﾅ") == "ウクライナ"
    assert having(items, "SBU")


def test_a_headline_with_two_bodies(items):
    by_headline = Counter(item.headline for item in items)
    (headline, n), = [(h, n) for h, n in by_headline.items() if n > 1]
    assert n == 2
    first, second = [item for item in items if item.headline == headline]
    assert first.id != second.id and first.body != second.body


def test_signature_lines_end_bodies(items):
    signed = [item for item in items if SIGNATURE.match(item.body.split("\n")[-1])]
    assert len(signed) == 3
    assert {SIGNATURE.match(item.body.split("\n")[-1])[1] for item in signed} == {"ポスト", "投稿"}
    assert all(item.handle == "TrumpDailyPosts" for item in signed)


def test_tag_lines(items):
    tagged = [item for item in items if item.tags]
    assert len(tagged) >= 4
    (minerals,) = [item for item in tagged if "#米宇(鉱物資源協定)" in item.tags]
    assert minerals.tags == ("#米宇(鉱物資源協定)", "#米宇(レアアース)")
    assert all(not item.body.split("\n")[-1].startswith("#") for item in tagged)


def test_emoji(items):
    assert len([item for item in items if EMOJI.search(text(item))]) >= 3


def test_links_in_headlines(dumps, items):
    urls = [url for item in items for url in item.urls]
    assert any(url.startswith("https://t.co/") for url in urls)
    assert any(url.startswith("pic.twitter.com/") for url in urls)
    assert any(len(item.urls) == 2 and item.urls[0] == item.urls[1] for item in items)  # Reuters
    lines = [line for path in NEWS_DUMPS for line in path.read_text(encoding="utf-8").split("\n")]
    assert any(re.search(r"[^\s]https://t\.co/", line) for line in lines)  # glued to the text
    assert any("https://t.co/" in line and "pic.twitter.com/" in line for item in items
               for line in item.body.split("\n"))  # links in a body stay text


def test_headline_only_items(items):
    assert len([item for item in items if not item.body]) == 2


def test_an_item_in_two_dumps_and_one_of_another_day(dumps):
    seen = Counter(item.id for dump in dumps for item in dump.items)
    assert list(seen.values()).count(2) == 1 and max(seen.values()) == 2
    for path, dump in zip(NEWS_DUMPS, dumps):
        others = [item for item in dump.items if item.date.isoformat() != path.stem]
        assert len(others) <= 1
    assert sum(item.date.isoformat() != path.stem
               for path, dump in zip(NEWS_DUMPS, dumps) for item in dump.items) == 2


def test_the_item_cp932_compares_is_cp932(dumps):
    # test_dumps.test_cp932 compares each dump's second item after a CP932 round trip.
    for dump in dumps:
        item = dump.items[1]
        (item.headline + item.body).encode("cp932")


def test_markup_dump():
    dump = read_dump(MARKUP_DUMP)
    assert len(dump.items) == 2 and not dump.warnings
    evil, safe = dump.items
    assert evil.headline.startswith("<script>alert(1)</script>")
    assert "<img src=x onerror=alert(1)>" in evil.headline and "&amp;" in evil.headline
    assert evil.source == "<b>Evil</b> & Co"
    assert '<a href="javascript:alert(1)">' in evil.body and evil.tags == ("#<i>tag</i>",)
    assert safe.urls == ('https://example.com/x?a=1&b="><script>alert(3)</script>',)


def test_the_index_holds_every_item(data_index, items):
    with storage.open_index(data_index).searcher() as s:
        assert sorted(d["id"] for d in s.all_stored_fields()) == sorted(item.id for item in items)


def test_none_of_it_is_copied_from_the_seed(shared_file, items):
    seed = shared_file("seed/000_0d03cf4c130cef51.txt").read_text(encoding="utf-8")
    window = 16
    for item in items:
        lines = [item.headline] + [line for line in item.body.split("\n") if not SIGNATURE.match(line)]
        for line in lines:
            line = re.sub(r"(https?://|pic\.twitter\.com/)\S+", "", line)
            copied = [line[i:i + window] for i in range(len(line) - window + 1)
                      if line[i:i + window] in seed]
            assert not copied, (item.headline, copied[:3])


def test_the_readme_counts_what_is_there(items):
    readme = (NEWS_DUMPS[0].parent / "README.md").read_text(encoding="utf-8")
    assert f"{NEWS_ITEMS} distinct items" in readme
    for path in NEWS_DUMPS:
        assert f"| `{path.name}` | {len(parse_text(path.read_text(encoding='utf-8')).items)} |" in readme
