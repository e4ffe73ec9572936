"""Queries a reader of the news dumps (tests/data) would type, through the
engine that serves the API, the page and the CLI."""

import pytest

from search.query import MAX_PER_PAGE, BadRequest, NotFound, QueryError

from helpers import NEWS_DAYS, NEWS_DUMPS, item_json, search_json


def search(service, q, **params):
    return search_json(service, dict(q=q, **params))


def headlines(service, q, **params):
    return [h["headline"] for h in search(service, q, **params)["hits"]]


def first(service, q, **params):
    hits = headlines(service, q, **params)
    assert hits, f"no hits for {q!r}"
    return hits[0]


def test_katakana_names(service):
    assert search(service, "ペスコフ")["total"] == 3
    assert "ゼレンスキー" in first(service, "ゼレンスキー")


@pytest.mark.parametrize("typed", ["ＮＡＴＯ", "NATO", "nato", "Ｎａｔｏ"])
def test_latin_in_any_width_or_case(service, typed):
    result = search(service, typed)
    assert result["total"] == search(service, "NATO")["total"] > 3
    assert "<mark>NATO</mark>" in result["hits"][0]["headline_html"]


def test_half_width_katakana_finds_full_width(service):
    assert search(service, "ｾﾞﾚﾝｽｷｰ")["total"] == search(service, "ゼレンスキー")["total"]


def test_hiragana_reading_finds_the_katakana_name(service):
    assert {h["id"] for h in search(service, "ぺすこふ")["hits"]} == \
        {h["id"] for h in search(service, "ペスコフ")["hits"]}


def test_a_word_typed_halfway_is_completed(service):
    result = search(service, "ゼレンスキ")
    assert result["total"] == search(service, "ゼレンスキー")["total"]
    assert "<mark>ゼレンスキー</mark>" in "".join(h["snippet"] + h["headline_html"]
                                               for h in result["hits"])
    assert search(service, "鉱物*")["total"] >= search(service, "鉱物資源")["total"] > 0


def test_compound_parts_find_the_compound(service):
    assert search(service, "取引所")["total"] == 1
    assert "モスクワ取引所" in search(service, "取引所")["hits"][0]["snippet"].replace("<mark>", "").replace("</mark>", "")
    # 防衛 finds the item about 防衛費 and ranks it first; 防衛費 finds fewer.
    assert "防衛費" in first(service, "防衛")
    assert search(service, "防衛")["total"] > search(service, "防衛費")["total"] >= 1


def test_exact_compound_ranks_above_its_scattered_parts(service):
    hits = headlines(service, "大統領府報道官")
    assert len(hits) >= 2
    assert hits[0].endswith("=大統領府報道官")  # the exact compound, in the headline


def test_quoted_phrase_means_adjacent_in_the_text(service):
    exact = headlines(service, '"大統領府報道官"')
    assert len(exact) == 1 and exact[0].endswith("大統領府報道官")
    # The same words with の between them are another phrase.
    with_no = headlines(service, '"大統領府の報道官"')
    assert with_no and exact[0] not in with_no


def test_quoted_phrase_is_marked(service):
    hit = search(service, '"大統領府報道官"')["hits"][0]
    assert hit["headline_html"].endswith("<mark>大統領府報道官</mark>")


def test_spaces_mean_and_full_width_too(service):
    both = search(service, "トランプ　プーチン")  # U+3000
    assert both["total"] == search(service, "トランプ プーチン")["total"]
    assert both["total"] < search(service, "トランプ")["total"]
    for hit in both["hits"]:
        text = hit["headline_html"] + hit["snippet"]
        assert "トランプ" in text or "プーチン" in text


def test_exclusion(service):
    with_ukraine = {h["id"] for h in search(service, "ロシア", per_page="100")["hits"]}
    without = {h["id"] for h in search(service, "ロシア -ウクライナ", per_page="100")["hits"]}
    assert without and without < with_ukraine
    assert not without & {h["id"] for h in search(service, "ウクライナ", per_page="100")["hits"]}


def test_or(service):
    sbu = search(service, "SBU")["total"]
    mineral = search(service, "鉱物資源")["total"]
    either = search(service, "SBU OR 鉱物資源")["total"]
    assert max(sbu, mineral) < either <= sbu + mineral


def test_op_or_ranks_any_word(service):
    question = "ロシア大統領府の報道官は誰ですか"
    assert search(service, question, op="or")["total"] > search(service, question)["total"]
    # The first hit answers it (its headline or the sentence shown: the
    # questions' re-rank favours a sentence holding the question's characters).
    hit = search(service, question, op="or")["hits"][0]
    assert "<mark>報道官</mark>" in hit["headline_html"] + hit["snippet"]


def test_filters(service):
    bbc = search(service, "ウクライナ", source="BBC News Japan")
    assert bbc["total"] == 2 and {h["source"] for h in bbc["hits"]} == {"BBC News Japan"}
    assert search(service, "ウクライナ", source="@bbcnewsjapan")["total"] == 2
    two = search(service, "ウクライナ", source=["BBC News Japan", "Sputnik 日本"])
    assert two["total"] == 3
    day = search(service, "ウクライナ", **{"from": "2025-02-19", "to": "2025-02-19"})
    assert day["total"] > 0 and {h["date"] for h in day["hits"]} == {"2025-02-19"}
    tagged = search(service, "ウクライナ", tag="#米宇(鉱物資源協定)")
    assert tagged["total"] == 1 and "#米宇(鉱物資源協定)" in tagged["hits"][0]["tags"]
    assert search(service, "ウクライナ", tag="米宇（鉱物資源協定）")["total"] == 1


def test_facets_count_the_whole_result(service):
    result = search(service, "ウクライナ", per_page="1")
    assert sum(result["facets"]["source"].values()) == result["total"]
    assert sum(result["facets"]["date"].values()) == result["total"]
    assert set(result["facets"]["date"]) == set(NEWS_DAYS)
    assert list(result["facets"]["source"].values()) == sorted(result["facets"]["source"].values(), reverse=True)


def test_sorting_by_date(service):
    newest = [h["date"] for h in search(service, "ウクライナ", sort="newest", per_page="50")["hits"]]
    oldest = [h["date"] for h in search(service, "ウクライナ", sort="oldest", per_page="50")["hits"]]
    assert newest == sorted(newest, reverse=True) and oldest == sorted(oldest)
    assert newest[0] == "2025-02-19" and oldest[0] == "2025-02-17"
    assert all(isinstance(h["score"], float) for h in search(service, "ウクライナ", sort="newest")["hits"])


def test_pagination(service):
    all_hits = [h["id"] for h in search(service, "ウクライナ", per_page="50")["hits"]]
    page1 = search(service, "ウクライナ", per_page="5")
    page2 = search(service, "ウクライナ", per_page="5", page="2")
    assert page1["pages"] == -(-page1["total"] // 5)
    assert [h["id"] for h in page1["hits"] + page2["hits"]] == all_hits[:10]
    past = search(service, "ウクライナ", per_page="5", page="99")
    assert past["hits"] == [] and past["total"] == page1["total"]


def test_snippets_mark_matches_and_escape_the_rest(service):
    hit = search(service, "ペスコフ")["hits"][0]
    assert "<mark>ペスコフ</mark>" in hit["snippet"]
    plain = hit["snippet"].replace("<mark>", "").replace("</mark>", "").strip("…")
    assert 20 < len(plain) <= 200
    # A headline-only match shows the start of the body.
    hit = next(h for h in search(service, "BBCニュース")["hits"] if "スパイ容疑" in h["headline"])
    assert "<mark>" in hit["headline_html"] and "<mark>" not in hit["snippet"]
    assert hit["snippet"].startswith("ウクライナ保安庁")


def test_every_hit_has_the_documented_fields(service):
    hit = search(service, "スパイ")["hits"][0]
    assert set(hit) == {"id", "headline", "headline_html", "snippet", "source", "handle",
                        "date", "url", "tags", "score", "labels", "story"}
    assert hit["url"].startswith("https://t.co/")
    item = item_json(service, hit["id"])
    assert item["dumps"] == ["2025-02-19.txt"] and item["body"]


@pytest.mark.parametrize("q", ["", "   ", "\u3000"])
def test_a_blank_query_browses_what_the_filters_allow(service, q):
    everything = search(service, q, per_page="100")
    assert everything["total"] == len(everything["hits"]) == 33
    dates = [h["date"] for h in everything["hits"]]
    assert dates == sorted(dates, reverse=True)
    bbc = search(service, q, source="BBC News Japan")
    assert bbc["total"] == 2 and {h["source"] for h in bbc["hits"]} == {"BBC News Japan"}


@pytest.mark.parametrize("params, code", [
    ({"q": "a" * 501}, "invalid_query"),
    ({"q": " ".join(["ロシア"] * 40)}, "invalid_query"),
    ({"q": "ロシア", "page": "0"}, "invalid_parameter"),
    ({"q": "ロシア", "page": "x"}, "invalid_parameter"),
    ({"q": "ロシア", "per_page": str(MAX_PER_PAGE + 1)}, "invalid_parameter"),
    ({"q": "ロシア", "sort": "best"}, "invalid_parameter"),
    ({"q": "ロシア", "op": "xor"}, "invalid_parameter"),
    ({"q": "ロシア", "from": "2025-02-30"}, "invalid_parameter"),
    ({"q": "ロシア", "from": "2025-02-13", "to": "2025-02-12"}, "invalid_parameter"),
    ({"q": "ロシア", "page": "200", "per_page": "100"}, "invalid_parameter"),
])
def test_bad_parameters_are_refused_with_a_reason(service, params, code):
    with pytest.raises(QueryError) as e:
        search_json(service, params)
    assert e.value.code == code and isinstance(e.value, BadRequest) and e.value.message


@pytest.mark.parametrize("q", ['"unbalanced', "(", "NOT", "*", "?", "*x", "title:ロシア",
                               "((((((((ロシア))))))))", "OR", "ロシア OR", "-", "--ロシア",
                               "の", "\0ロシア", "ロシア " + " OR ".join(["ウクライナ"] * 15)])
def test_odd_queries_are_answered(service, q):
    result = search_json(service, {"q": q})
    assert result["total"] >= 0 and isinstance(result["hits"], list)


def test_unknown_item_is_404(service):
    for item_id in ["0" * 16, "../../etc/passwd", "x"]:
        with pytest.raises(QueryError) as e:
            item_json(service, item_id)
        assert isinstance(e.value, NotFound)


def test_an_index_whose_dumps_were_all_removed_answers_nothing(tmp_path, make_index):
    from search.index import storage
    from search.ingest import reindex as indexer
    from search.query import SearchService

    make_index(NEWS_DUMPS, into=tmp_path)
    dumps = tmp_path / "dumps"
    for path in NEWS_DUMPS:
        (dumps / path.name).unlink()
    indexer.reindex(str(dumps), str(tmp_path / "index"))
    storage.create(str(tmp_path / "never-filled"))
    for index_dir in (tmp_path / "index", tmp_path / "never-filled"):
        service = SearchService(str(index_dir))
        for params in ({"q": "ロシア"}, {"q": "ロシア", "source": "NHKニュース", "from": "2025-01-01",
                                         "sort": "newest"}):
            answer = search_json(service, params)
            assert answer["total"] == 0 and answer["hits"] == []
