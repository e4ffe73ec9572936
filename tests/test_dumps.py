"""Tests of search.dumps: a test dump (tests/data) and the real seed dump
(../shared, when it is there) item by item, encodings, line ends, odd files,
the file walk, and property tests (never raises, round trip). The tests of
encodings, line ends, ids and round trips run on each news dump of
tests/data and on the seed."""
import dataclasses
import datetime
import os
import re
import string
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from search.ingest.dumps import (
    Dump, DumpError, Item, decode, format_item, iter_dump_files, parse_text, read_dump,
)

from helpers import DATA, NEWS_DUMPS

SEED = "seed/000_0d03cf4c130cef51.txt"  # in ../shared

FEB12 = datetime.date(2025, 2, 12)
FEB13 = datetime.date(2025, 2, 13)
NHK = ("NHKニュース", "nhk_news")
REUTERS = ("ロイター", "ReutersJapan")
TRUTH = ("Donald J. Trump Posts From His Truth Social", "TrumpDailyPosts")
SPUTNIK = ("Sputnik 日本", "sputnik_jp")
BBC = ("BBC News Japan", "bbcnewsjapan")
TRUMP_HEADLINE = "I just had a lengthy and highly productive phone call with President Vladimir Putin"


def tco(code, times=1):
    return ("https://t.co/" + code,) * times


# One row per item of the seed, in file order, as read by eye:
# (line, (source, handle), date, headline (a prefix when it ends in "…"), urls, tags,
#  first body line prefix, last body line prefix); None for both when there is no body.
SEED_ITEMS = [
    (1, NHK, FEB12, "【随時更新】ロシア ウクライナに軍事侵攻(2月13日の動き) #nhk_news",
     tco("MZVpLKPiIb"), (), None, None),
    (3, NHK, FEB12, "ロシア報道官 “掌握された地域の奪還目指す考えを強調” #nhk_news",
     tco("P1z50YHqZi"), (), "ロシア大統領府の報道官は、ウクライナのゼレンスキー大統領が",
     "「レバダセンター」は、プーチン政権から「外国のスパイ」"),
    (12, TRUTH, FEB12, TRUMP_HEADLINE + "…", (), (),
     "ロシアのウラジミール・プーチン大統領と長時間にわたり",
     "ドナルド・トランプの真実ソーシャルポスト 11:53 AM EST 02/12/25"),
    (16, TRUTH, FEB12, TRUMP_HEADLINE + "…", (), (),
     "ウクライナのウォロディミル・ゼレンスキー大統領と話をしたところです。",
     "ドナルド・トランプの真実ソーシャル投稿 01:11 PM EST 02/12/25"),
    (20, SPUTNIK, FEB12, "【モスクワ株式市場、露米電話会談を受けて急上昇】", (), (),
     "⏫モスクワ取引所のデータによると、ロシアの株式市場は急上昇し",
     "🔔@sputnik_jpで世界を知ろう https://t.co/rCcmrAl9MV pic.twitter.com/AdpfvkDcc5"),
    (25, ("ブルームバーグニュース", "BloombergJapan"), FEB12,
     "トランプ米大統領、ウクライナ停戦に向け協議開始でプーチン氏と合意", tco("YinKaIzU8b"), (),
     "トランプ米大統領は12日、ロシアのプーチン大統領と電話会談し、ウクライナでの戦争を終結させる",
     "原題:Trump and Putin Agree to Ukraine Talks in a US Policy Reversal"),
    (47, REUTERS, FEB12, "ウクライナ、クリミア併合前への国境回帰は非現実的=米国防長官",
     tco("O4B34UgcAK", 2), (), "ヘグセス米国防長官は12日、ウクライナが2014年以前の国境に",
     "NATOの相互防衛に言及し、"),
    (55, NHK, FEB12, "米国防長官 ウクライナのNATO加盟“現実的ではない” #nhk_news",
     tco("cU2UBn3IuH"), (), "NATO=北大西洋条約機構の国防相会合に参加するため",
     "その上で「トランプ大統領が求める方向に大きく近づくものだ。"),
    (68, REUTERS, FEB12, "トランプ氏、プーチン氏と電話会談 ゼレンスキー氏とも協議",
     tco("47hVLogMGv", 2), (), "トランプ米大統領は12日、ロシアのプーチン大統領と電話会談し、ウクライナでの戦争終結に向けた",
     "ヘグセス米国防長官は12日、ウクライナが14年以前の国境に"),
    (81, REUTERS, FEB13, "米ロ首脳会談、サウジ開催の可能性 トランプ氏が表明",
     tco("oH4xg4gori", 2), (), "トランプ米大統領は12日、ロシアのプーチン大統領との会談開催地は",
     "トランプ氏はプーチン大統領と良い会話をしたとし"),
    (85, REUTERS, FEB13, "ウクライナNATO加盟は非現実的と米大統領、領土奪還も否定的見解",
     tco("zou13j4Hk9", 2), (), "トランプ米大統領は12日、ロシアとの戦争を続けるウクライナについて",
     "また、おそらくサウジアラビアでプーチン氏と会談することになるだろうと述べた。"),
    (90, BBC, FEB13,
     "BBCニュース - ウクライナ国境、クリミア併合以前に戻る可能性は「低い」とトランプ氏 BBC記者の質問に",
     tco("fYSF0l6iJx") + ("pic.twitter.com/xYp6VQPg9c",), (), None, None),
    (92, REUTERS, FEB12, "米拘束のロシア人解放 米国人教師措置の見返り=大統領府報道官",
     tco("wNE2drFxP8", 2), (), "ロシア大統領府のペスコフ報道官は12日、米国で拘束されていたロシア人が",
     "解放された米国人教師は、63歳のマーク・フォーゲル氏。"),
    (101, REUTERS, FEB12, "NATO加盟できなければ軍増強へ、米の支援必要=ゼレンスキー氏",
     tco("IDGaZQdPV3", 2), (), "ウクライナのゼレンスキー大統領は、北大西洋条約機構(NATO)に加盟できなかった",
     "ゼレンスキー氏とウクライナ政府高官らは今週、ミュンヘン安全保障会議の合間に"),
    (110, REUTERS, FEB12, "NATO事務局長、ウクライナ軍事支援のより平等な分担で米と合意",
     tco("HL4UQGGfZ9", 2), (), "北大西洋条約機構(NATO)のルッテ事務局長は12日",
     "ウクライナでの戦闘や、NATOに批判的なトランプ政権が"),
    (118, SPUTNIK, FEB13, "🇯🇵ウクライナ財務省によると、日本政府による財政支援は米国についで二番目…", (),
     ("#日宇(復興支援)",), "🇯🇵ウクライナ財務省によると、日本政府による財政支援は米国についで二番目",
     "🇯🇵ウクライナ財務省によると"),
    (122, NHK, FEB12, "去年の世界全体の防衛費 約380兆円で過去最高 英シンクタンク #nhk_news",
     tco("IEFgIg0Wwo"), (), "イギリスのシンクタンクが世界の軍事情勢の分析を発表し",
     "また、戦闘の終結に向けた動きについては「ロシアのプーチン大統領は一貫して"),
    (149, REUTERS, FEB13, "欧州ガス業界、価格上限設定に反対 26日の政策公表前にEUに訴え",
     tco("0OcAFE9Ced", 2), (), "欧州連合(EU)がエネルギー価格高騰から消費者や企業を守る",
     "複数の業界団体はフォンデアライエン欧州委員長に書簡を送り"),
    (156, REUTERS, FEB13, "米国との鉱物資源協定は「安保の盾」、財務長官がウクライナ訪問",
     tco("Es6jr07syd", 2), ("#米宇(鉱物資源協定)", "#米宇(ベッセント財務長官・訪宇)"),
     "ウクライナの首都キーウ(キエフ)を訪問している米国のベッセント財務長官は",
     "ベッセント長官とゼレンスキー大統領の共同記者会見の終了直後"),
    (166, NHK, FEB13, "NATO国防相会合 開幕 国防費増額やウクライナ支援めぐり議論へ #nhk_news",
     tco("FgTaMfJHsO"), (), "NATO=北大西洋条約機構の国防相会合がベルギーで始まり",
     "そのうえで「ヘグセス長官が今回の会合で明確な要求をするかどうかは"),
    (179, BBC, FEB13, "BBCニュース - ウクライナ保安庁の高官、ロシアのスパイ容疑で逮捕",
     tco("moAQt1UdIi"), (), "ウクライナ保安庁(SBU)の高官が12日、ロシアの「スパイ」として活動していた疑いで逮捕された。",
     "「SBUの自浄は今も続いている。"),
]


FEB17 = datetime.date(2025, 2, 17)
FEB18 = datetime.date(2025, 2, 18)
BLOOMBERG = ("ブルームバーグニュース", "BloombergJapan")
WAR_HEADLINE = "THE WAR BETWEEN RUSSIA AND UKRAINE SHOULD NEVER HAVE STARTED, AND NOW IT WILL END."

# The same, for tests/data/2025-02-18.txt (as written).
NEWS_0218_ITEMS = [
    (1, REUTERS, FEB17, "ロシアが米国人を釈放、関係改善に向けた動きか", tco("Pz3cL8vB6n", 2), (),
     "ロシアで服役していた米国籍の男性が17日", "米ロ両政府は、大使館の運営など"),
    (6, REUTERS, FEB18, "米ロ首脳会談、日程や場所は未定=大統領府報道官", tco("Ne4vQ7yT2s", 2), (),
     "クレムリン(ロシア大統領府)のペスコフ報道官は18日", "一方、ウクライナとの和平交渉については"),
    (11, NHK, FEB18, "米ロ高官協議 サウジで始まる ロシア側 “NATO拡大の停止を” #nhk_news",
     tco("Uf8kD3mZ6r"), (), "アメリカとロシアの高官による協議が18日", "協議にはアメリカからルビオ国務長官"),
    (16, BLOOMBERG, FEB18, "ロシア、欧州の和平協議参加に否定的－クレムリン", tco("Xr2jH9sL4d"), (),
     "ロシア大統領府で報道官を務めるペスコフ氏は18日", "欧州各国の政府は"),
    (21, TRUTH, FEB18, WAR_HEADLINE + "…", (), (), "ロシアとウクライナの戦争を終わらせるための話し合いは",
     "ドナルド・トランプの真実ソーシャル投稿 10:05 PM EST 02/18/25"),
    (25, REUTERS, FEB18, "ウクライナとの鉱物資源協定、合意に近づく=米財務長官", tco("Mb7wC1eR3t", 2),
     ("#米宇(鉱物資源協定)", "#米宇(レアアース)"), "ベッセント米財務長官は18日",
     "ウクライナ側は、協定に将来の安全の保証を盛り込むよう求めている。"),
    (33, SPUTNIK, FEB18, "【リヤドでの露米協議 4時間半に及ぶ】", (), (), "🇷🇺🇺🇸サウジアラビアの首都リヤドで",
     "ロシア代表団を率いたラブロフ外相は"),
    (37, REUTERS, FEB18, "米ロ、大使館の正常化などで合意 ウクライナ和平へ作業部会", tco("Ro5gT2kW8m", 2), (),
     "米国とロシアは18日", "ルビオ氏は「これは長く難しい道のりの第一歩だ」"),
    (42, NHK, FEB18, "トランプ大統領 自動車への関税 “25%程度に” 日本メーカーに懸念 #nhk_news",
     tco("Ty3bN6vX1p"), (), "アメリカのトランプ大統領は、輸入される自動車に", "日本政府は、日本企業が"),
    (47, BLOOMBERG, FEB18, "円相場が一時151円台に上昇、日銀の早期利上げ観測で", tco("Zk6dS1fH8v"), (),
     "18日の外国為替市場で", "日本銀行の審議委員が"),
    (51, REUTERS, FEB18, "欧州は自らの防衛に責任を、NATO加盟国に国防費の増額迫る=米国防長官",
     tco("Ee8vM4qS2j", 2), (), "ヘグセス米国防長官は18日", "ポーランドは今年、GDP比4%を超える国防費"),
    (56, REUTERS, FEB18, "イスラエルとハマス、停戦の第2段階をめぐる交渉へ", tco("Gw1yP7nC3h", 2), (),
     "パレスチナ自治区ガザでの停戦をめぐり", "仲介するエジプトとカタールは"),
]


def check_item(item, row):
    line, (source, handle), date, headline, urls, tags, first, last = row
    assert (item.line, item.source, item.handle, item.date) == (line, source, handle, date)
    if headline.endswith("…"):
        assert item.headline.startswith(headline.rstrip("…"))
        assert item.headline.endswith("…")
    else:
        assert item.headline == headline
    assert item.urls == urls
    assert item.tags == tags
    if first is None:
        assert item.body == ""
    else:
        body_lines = item.body.split("\n")
        assert body_lines[0].startswith(first)
        assert body_lines[-1].startswith(last)
        assert body_lines[0].strip() and body_lines[-1].strip()
        assert not body_lines[-1].startswith("#")
    assert "http" not in item.headline


def fields(item):
    """What a round trip must keep (id and line depend on the file)."""
    return (item.headline, item.urls, item.source, item.handle, item.date, item.body, item.tags)


@pytest.fixture(scope="module")
def seed_text(shared_file):
    return shared_file(SEED).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def seed(seed_text):
    return parse_text(seed_text, "seed.txt")


# ------------------------------------------------------------------ the seed

def test_seed_has_21_items_and_a_label(seed):
    assert len(SEED_ITEMS) == 21
    assert len(seed.items) == 21
    assert seed.label == "#ロシア(250213)"
    assert seed.preamble == [] and seed.warnings == []
    assert seed.name == "seed.txt"
    assert all("#ロシア(250213)" not in item.tags for item in seed.items)


@pytest.mark.parametrize("index", range(len(SEED_ITEMS)))
def test_seed_item(seed, index):
    check_item(seed.items[index], SEED_ITEMS[index])


def test_seed_body_lengths(seed):
    # Counted from the file: body lines between the attribution and the next headline.
    counts = [len(item.body.split("\n")) if item.body else 0 for item in seed.items]
    assert counts == [0, 7, 2, 2, 3, 20, 6, 11, 11, 2, 3, 0, 7, 7, 6, 1, 25, 5, 6, 11, 11]


def test_seed_duplicate_headline_gives_two_items(seed):
    first, second = seed.items[2], seed.items[3]
    assert first.headline == second.headline
    assert first.id != second.id
    assert first.body != second.body


def test_seed_signature_and_sputnik_body(seed):
    assert seed.items[2].body.endswith("\nドナルド・トランプの真実ソーシャルポスト 11:53 AM EST 02/12/25")
    item = seed.items[15]
    assert "\n" not in item.body and item.body.endswith("ご協力ください🙏")
    assert "#日宇" not in item.body


def test_read_dump_seed(seed_path):
    dump = read_dump(seed_path, name="ru/000.txt")
    assert isinstance(dump, Dump)
    assert dump.name == "ru/000.txt" and dump.encoding == "utf-8" and len(dump.items) == 21
    assert read_dump(seed_path).name == os.fspath(seed_path)


# ------------------------------------------------------- a news test dump

@pytest.fixture(scope="module")
def news_0218():
    return read_dump(DATA / "2025-02-18.txt")


def test_news_dump_has_12_items_and_a_label(news_0218):
    assert len(news_0218.items) == len(NEWS_0218_ITEMS) == 12
    assert news_0218.label == "#米露(250218)"
    assert news_0218.preamble == [] and news_0218.warnings == []
    assert news_0218.encoding == "utf-8"


@pytest.mark.parametrize("index", range(len(NEWS_0218_ITEMS)))
def test_news_item(news_0218, index):
    check_item(news_0218.items[index], NEWS_0218_ITEMS[index])


def test_news_body_lengths(news_0218):
    counts = [len(item.body.split("\n")) if item.body else 0 for item in news_0218.items]
    assert counts == [3, 3, 3, 3, 2, 3, 2, 3, 3, 2, 3, 2]


def test_news_duplicate_headline_gives_two_items():
    day17, day18 = (read_dump(path) for path in NEWS_DUMPS[:2])
    first, second = day17.items[4], day18.items[4]
    assert first.headline == second.headline and first.handle == second.handle == "TrumpDailyPosts"
    assert first.id != second.id and first.body != second.body
    assert first.body.endswith("\nドナルド・トランプの真実ソーシャルポスト 09:42 AM EST 02/17/25")


def test_news_item_in_two_dumps_is_the_same_item():
    day17, day18 = (read_dump(path) for path in NEWS_DUMPS[:2])
    # The last item of the 17th opens the 18th's dump, verbatim.
    assert day18.items[0] == dataclasses.replace(day17.items[-1], line=1)
    assert day18.items[0].date == FEB17


def test_news_blank_line_before_tags(news_0218):
    item = news_0218.items[5]
    assert not item.body.endswith("\n") and "#" not in item.body
    assert item.tags == ("#米宇(鉱物資源協定)", "#米宇(レアアース)")


# --------------------------------- every real dump: the news dumps, the seed

@pytest.fixture(scope="module", params=[path.name for path in NEWS_DUMPS] + ["seed"])
def real_text(request, shared_file):
    """The text of a news test dump, or of the seed (skipped when absent)."""
    if request.param == "seed":
        return shared_file(SEED).read_text(encoding="utf-8")
    return (DATA / request.param).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def real(real_text):
    dump = parse_text(real_text, "dump.txt")
    assert dump.items and dump.label and dump.warnings == []
    return dump


def test_ids_are_stable(real, real_text):
    again = parse_text(real_text)
    assert [item.id for item in again.items] == [item.id for item in real.items]
    assert all(re.fullmatch(r"[0-9a-f]{16}", item.id) for item in real.items)
    assert len({item.id for item in real.items}) == len(real.items)


def test_same_item_in_two_dumps_has_same_id(real, real_text):
    lines = real_text.split("\n")
    # Another dump: an item of its own, then three items of this one.
    i = len(real.items) // 2
    items = real.items[i:i + 3]
    assert all(item.headline for item in items)  # their first line is item.line
    start, end = items[0].line, real.items[i + 3].line
    other = "\n".join(["別の見出し https://t.co/abc", "— 別の局 (@other) March 1, 2025", "本文。",
                       *lines[start - 1:end - 1], "#別(250301)"])
    dump = parse_text(other)
    assert [item.line for item in dump.items] == [1] + [item.line - start + 4 for item in items]
    assert [item.id for item in dump.items[1:]] == [item.id for item in items]
    assert dump.items[1] == dataclasses.replace(items[0], line=4)
    assert dump.label == "#別(250301)"


def test_items_round_trip(real):
    for item in real.items:
        (again,) = parse_text(format_item(item)).items
        assert fields(again) == fields(item)
    text = "".join(format_item(item) for item in real.items) + real.label + "\n"
    dump = parse_text(text)
    assert [fields(item) for item in dump.items] == [fields(item) for item in real.items]
    assert dump.label == real.label


# ------------------------------------------------------ encodings, line ends

@pytest.mark.parametrize("encoding, newline, expected", [
    ("utf-8-sig", "\n", "utf-8-sig"),
    ("utf-16", "\n", "utf-16"),          # Python writes a BOM
    ("utf-16-be", "\n", "utf-16"),       # BOM added by hand below
    ("utf-8", "\r\n", "utf-8"),
    ("utf-8", "\r", "utf-8"),
    ("utf-16", "\r\n", "utf-16"),
])
def test_encodings_and_line_ends(tmp_path, real, real_text, encoding, newline, expected):
    text = real_text.replace("\n", newline)
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path = tmp_path / "dump.txt"
    path.write_bytes(data)
    dump = read_dump(path, "dump.txt")
    assert dump.encoding == expected
    assert dump.items == real.items      # ids and line numbers included
    assert dump.label == real.label and dump.warnings == []


def test_cp932(tmp_path, real, real_text):
    # CP932 has no U+2014 (its dash 0x815C decodes to U+2015) nor emoji.
    data = real_text.replace("\u2014", "\u2015").encode("cp932", errors="replace")
    path = tmp_path / "sjis.txt"
    path.write_bytes(data)
    dump = read_dump(path)
    assert dump.encoding == "cp932"
    assert [(i.line, i.source, i.handle, i.date, i.urls, i.tags) for i in dump.items] == \
           [(i.line, i.source, i.handle, i.date, i.urls, i.tags) for i in real.items]
    assert dump.items[1].headline == real.items[1].headline
    assert dump.items[1].body == real.items[1].body
    assert dump.label == real.label


def test_decode_prefers_utf8_then_cp932():
    assert decode("日本語".encode("utf-8")) == ("日本語", "utf-8")
    assert decode("日本語".encode("cp932")) == ("日本語", "cp932")
    assert decode(b"\xef\xbb\xbfabc") == ("abc", "utf-8-sig")
    assert decode("abc".encode("utf-16")) == ("abc", "utf-16")
    assert decode(b"") == ("", "utf-8")


def test_binary_file_is_an_error(tmp_path):
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)) * 40)
    with pytest.raises(DumpError, match="binary"):
        read_dump(path)
    with pytest.raises(DumpError, match="NUL"):
        decode(b"\0" * 100)
    with pytest.raises(DumpError, match="binary"):   # binary behind a UTF-16 BOM
        decode(b"\xff\xfe" + b"\0\0" * 100)
    with pytest.raises(DumpError, match="binary"):   # binary behind a UTF-8 BOM
        decode(b"\xef\xbb\xbf" + b"\0" * 100)
    with pytest.raises(DumpError, match="binary file \\(control"):
        decode(bytes([1, 2, 3, 4, 5, 6, 7, 8]) * 20)


def test_undecodable_file_is_an_error():
    with pytest.raises(DumpError, match="not text"):
        decode(b"\x81\xff" * 50)
    with pytest.raises(DumpError, match="not text"):
        decode(b"\xff\xfe" + b"a")           # odd length after a UTF-16 BOM


def test_unreadable_path_is_an_error(tmp_path):
    with pytest.raises(DumpError, match="cannot read"):
        read_dump(tmp_path / "missing.txt")
    with pytest.raises(DumpError, match="cannot read"):
        read_dump(tmp_path)                  # a directory


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    dump = read_dump(path)
    assert (dump.items, dump.label, dump.preamble, dump.warnings) == ([], None, [], [])
    assert parse_text("\n\n  \n").items == []


def test_no_attribution_line():
    dump = parse_text("ただの文章。\n二行目。\n")
    assert dump.items == []
    assert dump.preamble == ["ただの文章。", "二行目。"]
    assert dump.warnings and "no attribution" in dump.warnings[0]


def test_preamble_kept_and_warned():
    text = "メモ: 2月分\n\n見出し\n— 局 (@kyoku) March 3, 2025\n本文\n"
    dump = parse_text(text)
    assert dump.preamble == ["メモ: 2月分"]
    assert len(dump.warnings) == 1 and "preamble" in dump.warnings[0]
    (item,) = dump.items
    assert (item.headline, item.body, item.line) == ("見出し", "本文", 3)


def test_nul_bytes_in_text(tmp_path, real, real_text):
    lines = real_text.split("\n")
    lines[5] += "\0"
    lines[30] = "\0" + lines[30]
    path = tmp_path / "nul.txt"
    path.write_bytes("\n".join(lines).encode("utf-8"))
    dump = read_dump(path)
    assert dump.items == real.items
    assert any("NUL" in warning for warning in dump.warnings)


# ------------------------------------------------------------ layout details

def test_attribution_rules():
    text = "\n".join([
        "— 最初 (@first) January 5, 2025",            # attribution on line 1: no headline
        "— 次 (@second) January 6, 2025",             # two in a row: no headline
        "見出し",
        "— 三番 (@third) February 30, 2025",          # impossible date: body text
        "— Name (With) Parens (@h_1) December 31, 1999   ",
        "",
        "— 四番 (@fourth) January 7, 2025",           # blank line above: no headline
    ])
    dump = parse_text(text)
    assert [(i.line, i.headline, i.source, i.handle) for i in dump.items] == [
        (1, "", "最初", "first"),
        (2, "", "次", "second"),
        (4, "— 三番 (@third) February 30, 2025", "Name (With) Parens", "h_1"),
        (7, "", "四番", "fourth"),
    ]
    assert dump.items[1].body == "見出し"
    assert dump.items[2].date == datetime.date(1999, 12, 31)
    assert any("impossible date" in warning for warning in dump.warnings)
    for item in dump.items:
        (again,) = parse_text(format_item(item)).items
        assert fields(again) == fields(item)


def test_headline_urls_and_whitespace():
    text = "速報　 見出し(動き)https://t.co/AbC pic.twitter.com/xyz  #nhk_news\n— N (@n) May 1, 2025\n"
    (item,) = parse_text(text).items
    assert item.headline == "速報 見出し(動き) #nhk_news"
    assert item.urls == ("https://t.co/AbC", "pic.twitter.com/xyz")


def test_tags_label_and_separators():
    text = "\n".join([
        "見出し", "— N (@n) May 1, 2025", "", "本文一", "", "本文二 #not_a_tag", "#タグ(一)", "",
        "  #タグ2  ", "", "", "#話題(250501)", "",
    ])
    dump = parse_text(text)
    (item,) = dump.items
    assert item.body == "本文一\n\n本文二 #not_a_tag"
    assert item.tags == ("#タグ(一)", "#タグ2")
    assert dump.label == "#話題(250501)"
    # Without the label pattern, the last hashtag line is a tag.
    (item,) = parse_text("h\n— N (@n) May 1, 2025\n#話題(2505)").items
    assert item.tags == ("#話題(2505)",)


def test_unicode_line_separators_are_not_line_ends():
    text = "見出し\n— N (@n) May 1, 2025\n一\u2028二\x0c三\x85四\r\n五"
    (item,) = parse_text(text).items
    assert item.body == "一\u2028二\x0c三\x85四\n五"


def test_repeated_item_kept_once():
    block = "見出し\n— N (@n) May 1, 2025\n本文\n"
    dump = parse_text(block + block + "見出し\n— N (@n) May 1, 2025\n別の本文\n")
    assert [item.line for item in dump.items] == [1, 7]
    assert any("kept once" in warning for warning in dump.warnings)


def test_format_item_layout():
    item = Item("0" * 16, "見出し #tag", ("https://t.co/x",), "Some Name", "handle",
                datetime.date(2025, 2, 3), "一\n二", ("#a", "#b"), 1)
    assert format_item(item) == (
        "見出し #tag https://t.co/x\n— Some Name (@handle) February 3, 2025\n一\n二\n#a\n#b\n")


def test_headline_that_reads_as_attribution_once_collapsed():
    (item,) = parse_text("— a (@b)  January 1, 2020\n— N (@n) May 1, 2025\n").items
    assert item.headline == "— a (@b) January 1, 2020" and item.source == "N"
    written = format_item(item)
    assert written.startswith("—\ta (@b)")
    (again,) = parse_text(written).items
    assert fields(again) == fields(item)


def test_example_of_the_format_doc():
    doc = Path(__file__).resolve().parents[1] / "docs" / "dump-format.md"
    example = re.search(r"## Example\n\n```text\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)[1]
    dump = parse_text(example)
    assert dump.preamble == ["Notes kept by the curator"] and dump.label == "#経済(250305)"
    assert [(i.line, i.headline, i.urls, i.date.day, i.tags) for i in dump.items] == [
        (2, "市場 急反発 日経平均 #market", ("https://t.co/Ab12Cd",), 4, ("#株価(日経平均)",)),
        (7, "Example headline in English…", ("https://t.co/Ef34Gh", "pic.twitter.com/Ij56Kl"), 4, ()),
        (9, "Example headline in English…", ("https://t.co/Ef34Gh", "pic.twitter.com/Ij56Kl"), 5, ()),
    ]
    assert dump.items[1].source == "Example Wire (New York)" and dump.items[1].body == ""
    assert dump.items[2].body.endswith("\nExample Wire 09:00 AM EST 03/05/25")
    assert dump.items[1].id != dump.items[2].id


def test_surrogates_do_not_raise():
    dump = parse_text("見\ud800出し\n— N (@n) May 1, 2025\n\udfff")
    assert len(dump.items) == 1


# -------------------------------------------------------------- file walking

def test_iter_dump_files(tmp_path):
    for rel in ["b.txt", "a/z.txt", "a/b/c.txt", "a/.hidden.txt", ".git/config",
                "a/.cache/x.txt", "A.txt", "a.b/x"]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "link.txt").symlink_to(tmp_path / "b.txt")
    (tmp_path / "dirlink").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    (tmp_path / "a" / "b" / "loop").symlink_to(tmp_path, target_is_directory=True)
    found = list(iter_dump_files(tmp_path))
    names = [rel for rel, _ in found]
    # dirlink/ is the same directory as a/: walked once, under its first name.
    assert names == ["A.txt", "a.b/x", "a/b/c.txt", "a/z.txt", "b.txt", "link.txt"]
    assert all(path.is_file() and path == tmp_path / rel for rel, path in found)
    assert list(iter_dump_files(str(tmp_path))) == found


# ----------------------------------------------------------- property tests

FRAGMENTS = ["— ", "(@x) ", "February 12, 2025", "February 30, 2025", "#tag", "#t(250213)",
             "\r", "\n", "\r\n", "https://t.co/x", "pic.twitter.com/y", " ", "見出し", "\0",
             "\u2028", "\ufeff", "N", "(@", ")", "—"]
any_text = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=40).map("".join),
)


@settings(max_examples=300, deadline=None, database=None)
@given(any_text)
def test_parse_text_never_raises(text):
    dump = parse_text(text)
    line_count = len(re.split(r"\r\n|\r|\n", text))
    assert len({item.id for item in dump.items}) == len(dump.items)
    for item in dump.items:
        assert re.fullmatch(r"[0-9a-f]{16}", item.id)
        assert 1 <= item.line <= line_count
        assert all(tag.startswith("#") for tag in item.tags)
        assert item.body == item.body.strip("\n")
        # Every parsed item can be written back and read again.
        (again,) = parse_text(format_item(item) + "#label(000000)\n").items
        assert fields(again) == fields(item)


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.text(max_size=30), max_size=8))
def test_parse_text_never_raises_on_line_lists(lines):
    for newline in ("\n", "\r\n", "\r"):
        parse_text(newline.join(lines))


# Items that are valid in the layout: what format_item writes, parse_text reads back.
TAG_LIKE = re.compile(r"#\S+")
WORD_CHARS = string.ascii_letters[:6] + "019#@()—:/.「」“”あ日本語🙏"
word = st.one_of(st.sampled_from(["#nhk_news", "(2月13日の動き)", "—", "@x", "https:", "//", "http"]),
                 st.text(WORD_CHARS, min_size=1, max_size=8))
headline = (st.lists(word, max_size=4).map(" ".join)
            .filter(lambda h: not re.search(r"https?://|pic\.twitter\.com/", h)))
url = st.builds(lambda prefix, rest: prefix + rest,
                st.sampled_from(["https://t.co/", "http://example.com/", "pic.twitter.com/"]),
                st.text(string.ascii_letters + string.digits + "/?=&()", min_size=1, max_size=10))
name = (st.lists(st.text(string.ascii_letters[:5] + "日本語.()-", min_size=1, max_size=6),
                 min_size=1, max_size=3).map(" ".join)
        .filter(lambda n: "(@" not in n))
handle = st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=12)
body_line = (st.text(WORD_CHARS + " \u3000\u2028\x0c#", max_size=20)
             .filter(lambda s: not s.startswith("— ")))
nonblank_line = body_line.filter(lambda s: s.strip())
last_line = nonblank_line.filter(lambda s: not TAG_LIKE.fullmatch(s.strip()))
body = st.one_of(
    st.just(""),
    last_line,
    st.builds(lambda first, middle, last: "\n".join([first, *middle, last]),
              nonblank_line, st.lists(body_line, max_size=3), last_line),
)
tag = st.text("abc日本()・_09#", min_size=1, max_size=8).map(lambda s: "#" + s)
items = st.builds(
    lambda h, u, n, hd, d, b, t: Item("", h, tuple(u), n, hd, d, b, tuple(t), 0),
    headline, st.lists(url, max_size=3), name, handle, st.dates(), body, st.lists(tag, max_size=3),
)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(items, min_size=1, max_size=5))
def test_format_item_round_trip(generated):
    text = "".join(format_item(item) for item in generated) + "#ラベル(250101)"
    dump = parse_text(text)
    expected, seen = [], set()
    for item in generated:                   # an item repeated verbatim is kept once
        if format_item(item) not in seen:
            seen.add(format_item(item))
            expected.append(fields(item))
    assert [fields(item) for item in dump.items] == expected
    assert dump.label == "#ラベル(250101)"
    assert dump.preamble == []
    assert len(dump.warnings) == len(generated) - len(expected)
    assert all("kept once" in warning for warning in dump.warnings)
