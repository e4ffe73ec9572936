"""Stories: the same event across outlets is one story, in the index, the
API and the CLI; stories stay right across incremental reindexes; the
timeline counts what the search's date facets count; related items."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from search.index import story_table
from search.ingest import reindex, stories
from search.query import SearchService
from web import create_app

from helpers import get_json, search_json

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "dumps").glob("*.txt"))  # the sample dumps `make run` indexes


def story_of(service, headline_part):
    """The story (API form) of the item whose headline contains headline_part
    (the indexes here hold at most 100 items: browsing lists them all)."""
    found = search_json(service, {"per_page": 100})
    assert found["total"] <= 100
    hits = [h for h in found["hits"] if headline_part in h["headline"]]
    assert hits, f"no item with {headline_part!r}"
    return hits[0]["story"]


@pytest.fixture(scope="module")
def seed_service(make_index, shared_file):
    return SearchService(make_index([shared_file("seed/000_0d03cf4c130cef51.txt")]))


@pytest.fixture(scope="module")
def samples(sample_index):
    return SearchService(sample_index)


# ------------------------------------------------------------ the seed's judgements

PHONE_CALL = ["トランプ米大統領、ウクライナ停戦に向け協議開始でプーチン氏と合意",  # Bloomberg
              "トランプ氏、プーチン氏と電話会談 ゼレンスキー氏とも協議"]  # Reuters
NATO = ["ウクライナ、クリミア併合前への国境回帰は非現実的=米国防長官",  # Reuters
        "米国防長官 ウクライナのNATO加盟“現実的ではない”"]  # NHK
OWN = ["米拘束のロシア人解放 米国人教師措置の見返り",  # the prisoner release
       "去年の世界全体の防衛費 約380兆円で過去最高",  # the IISS report
       "欧州ガス業界、価格上限設定に反対",  # the European gas price cap
       "ウクライナ保安庁の高官、ロシアのスパイ容疑で逮捕"]  # the SBU arrest


def truth_social_phone_call(service):
    """The Truth Social post about the call with Putin (its headline, in
    English, is posted twice with two bodies)."""
    found = search_json(service, {"q": "プーチン 電話会談", "source": "TrumpDailyPosts"})
    return [h for h in found["hits"] if h["headline"].startswith("I just had")][0]["story"]


def test_seed_the_phone_call_is_one_story_across_outlets(seed_service):
    story = story_of(seed_service, PHONE_CALL[0])
    assert story_of(seed_service, PHONE_CALL[1])["id"] == story["id"]
    assert truth_social_phone_call(seed_service)["id"] == story["id"]
    assert {"ブルームバーグニュース", "ロイター", "Donald J. Trump Posts From His Truth Social"} \
        <= set(story["sources"])


def test_seed_the_defence_secretary_on_nato_is_one_story(seed_service):
    nato = story_of(seed_service, NATO[0])
    assert story_of(seed_service, NATO[1])["id"] == nato["id"]
    assert {"ロイター", "NHKニュース"} <= set(nato["sources"])
    assert nato["id"] != story_of(seed_service, PHONE_CALL[0])["id"]


@pytest.mark.parametrize("headline", OWN)
def test_seed_unrelated_events_are_stories_of_their_own(seed_service, headline):
    story = story_of(seed_service, headline)
    assert story["size"] == 1, story


def test_seed_and_samples_keep_the_judgements(make_index, shared_file):
    service = SearchService(make_index([shared_file("seed/000_0d03cf4c130cef51.txt"), *SAMPLES]))
    phone = story_of(service, PHONE_CALL[0])["id"]
    assert story_of(service, PHONE_CALL[1])["id"] == phone == truth_social_phone_call(service)["id"]
    assert story_of(service, NATO[0])["id"] == story_of(service, NATO[1])["id"] != phone
    for headline in OWN:
        assert story_of(service, headline)["size"] == 1


# ------------------------------------------------- the sample dumps' judgements

SAME = [
    # the call, on NHK and on the BBC
    ("米ロ首脳が電話会談 ウクライナ停戦に向け交渉開始で一致", "トランプ氏とプーチン氏が電話会談"),
    # the draft minerals deal, and the Munich meeting where it is on the table
    ("ゼレンスキー氏、米国との鉱物資源協定の草案受け取る", "ミュンヘンで米副大統領と会談へ 資源協定も議題か"),
    # the Kremlin on the summit's preparation: NHK and Reuters
    ("首脳会談の場所や日程“まだ決まっていない”", "米ロ首脳会談、準備には時間必要"),
    # the NATO defence ministers' meeting: its opening (NHK) and its close (Sputnik)
    ("NATO国防相会合 始まる", "ＮＡＴＯ国防相会合が閉幕"),
]
APART = [
    ("欧州ガス価格が急落", "NATO国防相会合 始まる"),
    ("ゼレンスキー氏、米国との鉱物資源協定の草案受け取る", "NATO国防相会合 始まる"),
    ("米ロ首脳会談、準備には時間必要", "ミュンヘン安全保障会議 開幕"),
    ("長期金利1.3%台に上昇", "日経平均は反落"),
    # two BBC headlines share only the BBC's 「BBCニュース - 」
    ("インドのモディ首相がホワイトハウス訪問", "トランプ氏とプーチン氏が電話会談"),
    # Japan's defence budget is not NATO's
    ("防衛費の増額 財源めぐり", "NATO国防相会合 始まる"),
]


@pytest.mark.parametrize("a, b", SAME)
def test_samples_the_same_event_is_one_story(samples, a, b):
    assert story_of(samples, a)["id"] == story_of(samples, b)["id"]


@pytest.mark.parametrize("a, b", APART)
def test_samples_different_events_are_different_stories(samples, a, b):
    assert story_of(samples, a)["id"] != story_of(samples, b)["id"]


def test_a_wire_copy_days_later_is_the_same_story(tmp_path, make_index):
    original = SAMPLES[0].read_text(encoding="utf-8")
    start = original.index("ゼレンスキー氏、米国との鉱物資源協定の草案受け取る")
    item = original[start:original.index("\n— ", start)]
    body = original[original.index("\n", original.index("\n— ", start) + 1) + 1:]
    body = body[:body.index("\n", 200)]
    copy = tmp_path / "2025-03-01.txt"
    copy.write_text(f"{item.replace('受け取る', '受領')}\n— 時事通信 (@jijicom) March 1, 2025\n"
                    f"{body.replace('示した', '示している')}\n", encoding="utf-8")
    service = SearchService(make_index([*SAMPLES, copy], into=tmp_path / "built"))
    assert story_of(service, "米国との鉱物資源協定の草案受領")["id"] == \
        story_of(service, "米国との鉱物資源協定の草案受け取る")["id"]


# ------------------------------------------------------------ across reindexes

FOLLOW_UP = """米ロ首脳会談の準備、大統領府報道官「日程は未定」 https://t.co/FollowUp01
— ロイター (@ReutersJapan) February 15, 2025
ロシア大統領府のペスコフ報道官は15日、プーチン大統領とトランプ米大統領の首脳会談について、準備には時間がかかり、日程や場所はまだ決まっていないと改めて述べた。
"""


def test_a_follow_up_joins_its_story_and_a_removed_dump_leaves_it(tmp_path, make_index):
    index_dir = make_index(SAMPLES, into=tmp_path)
    dumps = tmp_path / "dumps"
    before = story_of(SearchService(index_dir), "米ロ首脳会談、準備には時間必要")
    (dumps / "2025-02-15.txt").write_text(FOLLOW_UP, encoding="utf-8")
    summary = reindex.reindex(str(dumps), index_dir)
    assert not summary.full and summary.added == 1
    service = SearchService(index_dir, refresh_seconds=0)
    joined = story_of(service, "米ロ首脳会談の準備、大統領府報道官")
    assert joined["id"] == before["id"] and joined["size"] == before["size"] + 1
    (dumps / "2025-02-13.txt").unlink()  # holds the Reuters item the story was named by
    summary = reindex.reindex(str(dumps), index_dir)
    assert not summary.full and summary.removed > 0
    after = story_of(SearchService(index_dir), "米ロ首脳会談の準備、大統領府報道官")
    assert after["id"] == before["id"]  # the story keeps its name
    assert after["size"] == joined["size"] - 1  # the removed item left it
    table = story_table.unpacked(story_table.read_serving(
        index_dir, SearchService(index_dir).searcher().reader().generation()))
    assert len(table["ids"]) == SearchService(index_dir).searcher().doc_count()


def test_a_no_op_reindex_does_no_grouping(tmp_path, make_index, monkeypatch):
    index_dir = make_index(SAMPLES, into=tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("grouped again")

    monkeypatch.setattr(stories.StoryState, "add", refuse)
    summary = reindex.reindex(str(tmp_path / "dumps"), index_dir)
    assert summary.added == summary.removed == summary.updated == 0


def test_a_full_reindex_gives_the_same_stories(tmp_path, make_index):
    incremental = make_index(SAMPLES[:2], into=tmp_path / "a")
    shutil.copy(SAMPLES[2], tmp_path / "a" / "dumps" / SAMPLES[2].name)
    reindex.reindex(str(tmp_path / "a" / "dumps"), incremental)
    full = make_index(SAMPLES, into=tmp_path / "b")
    one, two = SearchService(incremental), SearchService(full)
    for a, b in SAME:
        assert (story_of(one, a)["id"] == story_of(one, b)["id"]) == \
            (story_of(two, a)["id"] == story_of(two, b)["id"])


# ------------------------------------------------------------- the API

@pytest.fixture(scope="module")
def api(sample_index):
    return create_app({"INDEX_DIR": sample_index, "TESTING": True}).test_client()


def test_every_hit_has_its_story_and_labels(api):
    body = get_json(api, f"/api/search?q={quote('ウクライナ')}&per_page=100")
    for hit in body["hits"]:
        assert set(hit["story"]) == {"id", "size", "sources"}
        assert hit["story"]["size"] >= 1 and hit["source"] in hit["story"]["sources"]
        assert hit["labels"] and all(label.startswith("#") for label in hit["labels"])


def test_group_story_collapses_each_story_to_its_best_hit(api):
    flat = get_json(api, f"/api/search?q={quote('ウクライナ')}&per_page=100")
    grouped = get_json(api, f"/api/search?q={quote('ウクライナ')}&per_page=100&group=story")
    stories_in_flat = {h["story"]["id"] for h in flat["hits"]}
    assert grouped["total"] == len(stories_in_flat) < flat["total"]
    assert len({h["story"]["id"] for h in grouped["hits"]}) == len(grouped["hits"])
    matching = {h["id"] for h in flat["hits"]}
    listed = set()
    for hit in grouped["hits"]:
        others = hit["story"]["items"]
        assert set(others) <= matching and hit["id"] not in others
        listed.update(others, [hit["id"]])
        best = [h for h in flat["hits"] if h["story"]["id"] == hit["story"]["id"]][0]
        assert best["id"] == hit["id"]  # the best hit of the flat ranking stands for its story
    assert listed == matching


def test_related_items_put_the_story_first(api):
    hit = get_json(api, f"/api/search?q={quote('鉱物資源協定 草案')}")["hits"][0]
    body = get_json(api, f"/api/items/{hit['id']}/related?limit=10")
    assert body["id"] == hit["id"] and body["story"]["id"] == hit["story"]["id"]
    flags = [r["same_story"] for r in body["related"]]
    assert flags == sorted(flags, reverse=True)  # the story's items, then the others
    assert sum(flags) == hit["story"]["size"] - 1 and len(body["related"]) > sum(flags)
    assert hit["id"] not in {r["id"] for r in body["related"]}
    assert set(body["related"][0]) == {"id", "headline", "source", "handle", "date", "url",
                                       "score", "same_story"}
    assert get_json(api, "/api/items/0000000000000000/related", 404)["error"]["code"] == "not_found"
    assert get_json(api, f"/api/items/{hit['id']}/related?limit=0", 400)["error"]["code"] == \
        "invalid_parameter"


@pytest.mark.parametrize("params", ["q=ウクライナ", "q=ロシア&source=NHK", "", "q=プーチン&label=ロシア",
                                    "q=ウクライナ&from=2025-02-13&to=2025-02-14"])
def test_timeline_counts_are_the_searchs_date_facets(api, params):
    params = "&".join(f"{k}={quote(v)}" for k, v in (p.split("=") for p in params.split("&") if p))
    facets = get_json(api, f"/api/search?{params}")["facets"]["date"]
    timeline = get_json(api, f"/api/timeline?{params}")
    counts = {b["start"]: b["count"] for b in timeline["buckets"] if b["count"]}
    assert counts == facets
    for b in timeline["buckets"]:
        assert 0 <= b["share"] <= 1 and b["count"] <= b["total"]
        assert b["share"] == round(b["count"] / b["total"], 4) if b["total"] else b["share"] == 0
    assert sum(sum(v) for v in timeline["sources"].values()) == sum(facets.values())


def test_timeline_fills_the_range_with_zeros_and_buckets_weeks(api):
    body = get_json(api, f"/api/timeline?q={quote('ペスコフ')}&from=2025-02-10&to=2025-02-16")
    assert [b["start"] for b in body["buckets"]] == [f"2025-02-{d}" for d in range(10, 17)]
    assert body["buckets"][0] == {"start": "2025-02-10", "count": 0, "total": 0, "share": 0.0}
    weeks = get_json(api, f"/api/timeline?q={quote('ペスコフ')}&interval=week")
    assert [b["start"] for b in weeks["buckets"]] == ["2025-02-10"]  # the Monday
    assert get_json(api, "/api/timeline?interval=year", 400)["error"]["code"] == "invalid_parameter"


def test_browsing_without_a_query_lists_the_newest_with_facets(api):
    body = get_json(api, "/api/search?per_page=100")
    dates = [h["date"] for h in body["hits"]]
    assert body["total"] == 36 and dates == sorted(dates, reverse=True)
    assert sum(body["facets"]["source"].values()) == 36
    nhk = get_json(api, f"/api/search?source={quote('NHK')}")
    assert nhk["total"] == body["facets"]["source"]["NHKニュース"]


def test_labels_filter_and_facet(api):
    body = get_json(api, f"/api/search?q={quote('ウクライナ')}")
    assert body["facets"]["label"]
    label = next(iter(body["facets"]["label"]))
    filtered = get_json(api, f"/api/search?q={quote('ウクライナ')}&label={quote('＃' + label)}")
    assert filtered["total"] == body["facets"]["label"][label]
    topic = label.split("(")[0]
    assert get_json(api, f"/api/search?q={quote('ウクライナ')}&label={quote(topic)}")["total"] >= \
        filtered["total"]


# ------------------------------------------------------------------ the CLI

def test_cli_group_and_timeline(sample_index):
    index = sample_index
    run = subprocess.run([sys.executable, "-m", "search", "query", "ウクライナ", "--group", "story",
                          "--json", "--index", index], cwd=ROOT, capture_output=True, text=True)
    grouped = json.loads(run.stdout)
    assert run.returncode == 0 and all("items" in h["story"] for h in grouped["hits"])
    run = subprocess.run([sys.executable, "-m", "search", "timeline", "ウクライナ", "--index", index],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    assert lines[0].startswith("16 件") and any(line.startswith("2025-02-12 █") for line in lines)
    run = subprocess.run([sys.executable, "-m", "search", "timeline", "ウクライナ", "--json",
                          "--interval", "week", "--index", index], cwd=ROOT, capture_output=True,
                         text=True)
    assert json.loads(run.stdout)["interval"] == "week"


# ------------------------------------------------------------ edge cases (review)

def test_an_empty_index_answers_timelines_and_pages(tmp_path):
    (tmp_path / "dumps").mkdir()
    reindex.reindex(str(tmp_path / "dumps"), str(tmp_path / "index"))
    client = create_app({"INDEX_DIR": str(tmp_path / "index"), "TESTING": True}).test_client()
    assert get_json(client, "/api/timeline?q=x")["buckets"] == []
    for path in ("/?q=x", "/?from=2025-02-12&to=2025-02-14", "/"):
        assert client.get(path).status_code == 200, path


def test_a_timeline_too_long_for_its_interval_is_refused_and_the_page_draws_none(api):
    error = get_json(api, "/api/timeline?from=0001-01-01&to=9999-12-31", 400)["error"]
    assert error["code"] == "invalid_parameter" and "interval" in error["message"]
    assert get_json(api, "/api/timeline?from=1990-01-01&to=2025-12-31&interval=month")["buckets"]
    page = api.get(f"/?q={quote('ロシア')}&from=0001-01-01&to=9999-12-31")
    assert page.status_code == 200 and len(page.data) < 500_000
    assert b"timeline-chart" not in page.data
    # the calendar's last days: no bucket can end past them
    assert get_json(api, "/api/timeline?from=9999-12-31&to=9999-12-31", 400)["error"]["code"] == \
        "invalid_parameter"
    assert api.get("/?q=a&from=9999-12-31&to=9999-12-31").status_code == 200


def test_a_bars_link_stays_within_the_searched_dates(api):
    html = api.get(f"/?q={quote('ウクライナ')}&from=2025-02-13&to=2025-02-14").get_data(as_text=True)
    import re
    bars = re.findall(r'<a href="([^"]+)" class="timeline-bar"', html)
    assert bars
    for href in bars:
        href = href.replace("&amp;", "&")
        assert "from=2025-02-13" in href or "from=2025-02-14" in href, href


def test_the_story_filter_finds_an_item_the_table_does_not_know(tmp_path, make_index):
    index_dir = make_index(SAMPLES, into=tmp_path)
    for name in Path(index_dir).glob("stories-*.pickle"):
        name.unlink()  # as if it could not be read
    client = create_app({"INDEX_DIR": index_dir, "TESTING": True}).test_client()
    hit = get_json(client, f"/api/search?q={quote('ペスコフ')}")["hits"][0]
    assert hit["story"] == {"id": hit["id"], "size": 1, "sources": [hit["source"]]}
    alone = get_json(client, f"/api/search?story={hit['id']}")
    assert [h["id"] for h in alone["hits"]] == [hit["id"]]


def test_a_story_name_is_never_given_to_another_story():
    state = stories.StoryState()
    about = (("プーチン", 2), ("電話会談", 2), ("ウクライナ", 1))
    state.add([stories.new_item("a" * 16, 739000, "ロイター", about),
               stories.new_item("b" * 16, 739000, "NHK", about)])
    assert state.story("b" * 16) == "a" * 16
    state.remove(["a" * 16])  # the story named by a keeps b
    state.add([stories.new_item("a" * 16, 739100, "ロイター", (("天気", 2), ("大雪", 1)))])
    assert state.story("a" * 16) != state.story("b" * 16)


def test_a_near_duplicate_months_later_joins_and_a_shared_name_alone_does_not():
    state = stories.StoryState()
    filler = [stories.new_item(f"f{k:015d}", 739000 + k, "NHK", ((f"話題{k}", 2), ("天気", 1)))
              for k in range(20)]  # other items, so that the terms below are rare
    call = (("プーチン", 2), ("電話会談", 2), ("ウクライナ", 1), ("停戦", 1))
    state.add([*filler, stories.new_item("a" * 16, 739000, "ロイター", call)])
    # Months later, outside the window: the same terms with one more join;
    # an item sharing only one of the heaviest terms does not.
    state.add([stories.new_item("b" * 16, 739090, "BBC", (*call, ("首脳", 1))),
               stories.new_item("c" * 16, 739200, "NHK", (("プーチン", 2), ("大雪", 2), ("除雪", 1)))])
    assert state.story("b" * 16) == state.story("a" * 16)
    assert state.story("c" * 16) == "c" * 16


def test_the_columns_of_two_generations_are_kept_together(tmp_path, make_index):
    from search.query.columns import Columns

    index_dir = make_index(SAMPLES[:2], into=tmp_path)
    service = SearchService(index_dir, refresh_seconds=0)
    old = service.searcher()
    shutil.copy(SAMPLES[2], tmp_path / "dumps" / SAMPLES[2].name)
    reindex.reindex(str(tmp_path / "dumps"), index_dir)
    new = old.refresh()
    columns, built = Columns(), []
    for searcher in (old, new, old, new):
        columns._kept(searcher, "probe", lambda: built.append(1) or object())
    assert len(built) == 2  # once per generation, not once per call


def test_a_days_items_put_into_the_serving_table_give_the_table_made_whole():
    """A daily reindex puts its items into the table it read (the new
    story names in their sorted place, the numbers after them moved up)
    instead of sorting a year's ids again: the table is the same."""
    def day(k, n):
        # ids in no order of their days; stories joined and stories new
        return [stories.new_item(f"{k:02d}{j:014x}"[::-1], 739000 + 10 * k, "NHK",
                                 ((f"話題{k}-{j % 4}", 2), (f"地名{j % 2}", 1)))
                for j in range(n)]

    state = stories.StoryState()
    state.add(day(0, 12))
    for k in range(1, 5):
        state = stories.from_plain(dict(stories.to_plain(state), entries=stories.to_plain(
            state)["entries"](), serving=stories.serving_table(state)))
        state.add(day(k, 7))
        assert stories.serving_table(state) == stories.serving_table(
            stories.StoryState(dict(state.entries)))
    state.remove([next(iter(state.entries))])  # a removal: the table is made whole
    whole = stories.serving_table(stories.StoryState(dict(state.entries)))
    assert stories.serving_table(state) == whole
    assert len(story_table.unpacked(whole)["ids"]) == 12 + 4 * 7 - 1


def _many_items(n=400, days=20):
    """Items over a few weeks drawn from a small vocabulary (so that many
    pairs share terms and many join), some without a usable headline, and
    every tenth a copy of an earlier one a month later (a near-duplicate)."""
    import random

    rnd = random.Random(5)
    vocabulary = [f"語{k}" for k in range(250)]
    items = []
    for k in range(n):
        if k % 10 == 9 and items:
            _, day, source, terms, counts, headline = rnd.choice(items)
            items.append((f"{k:016d}", day + 30, "BBC", terms, counts, headline))
            continue
        terms = rnd.sample(vocabulary, rnd.randint(3, 9))
        items.append(stories.new_item(f"{k:016d}", 739000 + rnd.randrange(days),
                                      rnd.choice(["NHK", "ロイター", "BBC"]),
                                      [(t, rnd.randint(1, 3)) for t in terms], rnd.random() > 0.2))
    return items


def test_items_packed_by_the_writers_group_as_the_items_themselves():
    """A reindex's parent takes each writer's items packed (terms as
    numbers into that writer's terms) and numbers them into its own: each
    term once, and the stories, vectors and counts are those of the items
    given as they are."""
    items = _many_items()
    parent = stories.Collector()
    for part in (items[:150], items[150:]):  # two writers, each numbering its own
        parent.merge(stories.pack(part))
    assert sorted(parent.terms) == sorted({t for item in items for t in item[3]})
    plain, packed = stories.StoryState(), stories.StoryState()
    plain.add(items)
    packed.add(parent.take())
    assert not parent.items and not parent.numbers  # taken: the parent holds none of it
    assert packed.entries == plain.entries and list(packed.entries) == list(plain.entries)
    assert packed.df == plain.df and packed.source_df == plain.source_df
    assert len({plain.story(i[0]) for i in items}) < len(items) / 2  # many joined: a real test


class _Words(dict):
    """The analyzer's postings of a text as story_terms reads them: {form:
    array of (position, start, end)}, every form a content noun."""

    def __init__(self, counts):
        from array import array

        super().__init__({form: array("i", [p for k in range(n) for p in (k, 10 * k, 10 * k + 2)])
                          for form, n in counts.items()})
        self.nouns = set(counts)


def test_a_writers_collected_items_reach_the_parent_through_a_pipe_as_they_were():
    """What a writer's Collector gathers from its documents, pickled as a
    pipe sends it and merged by the parent's, groups as the items do."""
    import pickle
    from datetime import date

    docs = [({"id": f"{k:016d}", "date": f"2025-03-{1 + k % 3:02d}", "source": "NHK",
              "headline": f"停戦{k % 2}"},
             {"headline": _Words({f"停戦{k % 2}": 1}),
              "body": _Words({"停戦": 2, "会談": 1, f"首脳{k % 4}": 1})}) for k in range(12)]
    writer, parent = stories.Collector(), stories.Collector()
    for fields, analyzed in docs:
        writer.add(fields, analyzed)
    parent.merge(pickle.loads(pickle.dumps(writer.results())))
    plain = [stories.new_item(f["id"], date.fromisoformat(f["date"]).toordinal(), f["source"],
                              *stories.story_terms(f["headline"], a["headline"], a["body"]))
             for f, a in docs]
    by_parent, by_items = stories.StoryState(), stories.StoryState()
    by_parent.add(parent.take())
    by_items.add(plain)
    assert by_parent.entries == by_items.entries and by_parent.df == by_items.df
    assert all(entry[stories.JOINED] for entry in by_parent.entries.values())  # terms came through


def test_grouping_in_blocks_gives_the_stories_of_the_window_rule(monkeypatch):
    """Which item a new item joins is found for all of them at once, in
    blocks of rows and columns: blocks of any size give the same stories,
    and an item whose best-scoring earlier item within the window reaches
    the threshold joins that one's story (ties: the smallest id)."""
    whole = stories.StoryState()
    whole.add(_many_items())
    monkeypatch.setattr(stories._Grouping, "ROWS", 7)
    monkeypatch.setattr(stories._Grouping, "BLOCK", 60)
    blocks = stories.StoryState()
    blocks.add(_many_items())
    assert blocks.entries == whole.entries
    order = sorted(whole.entries, key=lambda i: (whole.entries[i][stories.DATE], i))
    joined = 0
    for k, item_id in enumerate(order):
        entry = whole.entries[item_id]
        mine = list(stories.vector(entry))
        best, best_id = 0.0, None
        for other in order[:k]:
            theirs = whole.entries[other]
            if abs(theirs[stories.DATE] - entry[stories.DATE]) > stories.WINDOW_DAYS:
                continue
            weights = dict(stories.vector(theirs))
            score = 0.0
            for t, w in mine:
                score += w * weights.get(t, 0.0)
            if score > best or (score == best and best_id is not None and other < best_id):
                best, best_id = score, other
        if best_id is not None and best >= stories.JOIN:
            assert entry[stories.STORY] == whole.entries[best_id][stories.STORY]
            joined += 1
    assert joined > 100  # the rule was exercised, not skipped
    assert len({e[stories.STORY] for e in whole.entries.values()}) > 40
