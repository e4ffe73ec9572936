"""Japanese analysis for Whoosh on SudachiPy.

The analyzer reads like Whoosh's own: a tokenizer and filters composed with
``|``, one ``Token`` reused::

    >>> [t.text for t in japanese_analyzer()("防衛費を増額")]
    ['防衛費', '防衛', '費', '増額']

- ``SudachiTokenizer`` segments in split mode C (compounds kept whole) and
  gives each word its search form: Sudachi's normalized form (ｳｸﾗｲﾅ and
  ウクライナ, コンピュータ and コンピューター, 述べ and 述べる become one), except
  Latin words, which stay lowercased words (Sudachi would turn ``call`` into
  ``コール``). Particles, auxiliaries, symbols and whitespace are dropped but
  still take a position, so a quoted phrase means adjacency in the original
  text.
- ``CompoundPartsFilter`` adds the mode-A parts of a compound after it, at
  their own positions, so ``防衛`` finds ``防衛費`` and phrases can be matched
  on the finest segmentation.

Positions count mode-A units: a compound of k parts at position p has its
parts at p..p+k-1 and the next word at p+k.

Sudachi objects are neither picklable nor thread-safe, and Whoosh pickles the
schema (analyzers included) into the index, so the tokenizer holds no Sudachi
state: one dictionary per process and one tokenizer per thread are made on
first use (``_sudachi()``).
"""

import json
import os
import re
import threading
import unicodedata
from array import array

from whoosh.analysis import CompositeAnalyzer, Filter, Token, Tokenizer

# Word classes that carry no meaning of their own for search.
STOP_POS = frozenset(["助詞", "助動詞", "補助記号", "空白", "記号"])

# Sudachi refuses input over 49,149 UTF-8 bytes; 12,000 characters stay under
# it even for 4-byte characters. Chunks that still fail (characters that grow
# under normalization, such as ㍿ or ﷺ) are halved until they pass.
CHUNK_CHARS = 12000

_local = threading.local()
# user_dict: the compiled user dictionary the process analyses with (None:
# Sudachi's alone), a per-process setting (search/userdict.py; the service
# sets its index's, reindex the one it builds with), never part of the
# pickled analyzer; version counts the dictionaries loaded, so each thread's
# tokenizer follows a change.
_process = {"dictionary": None, "user_dict": None, "version": 0}
_dictionary_lock = threading.Lock()


def use_user_dictionary(path):
    """Analyse with Sudachi's dictionary and this compiled user dictionary
    (None: Sudachi's alone) from now on in this process; loaded on next use.
    Returns whether it changed."""
    path = os.path.abspath(path) if path else None
    if _process["user_dict"] == path:
        return False
    with _dictionary_lock:
        if _process["user_dict"] == path:
            return False
        _process["user_dict"] = path
        _process["dictionary"] = None
        _process["version"] += 1
    return True


def user_dictionary():
    """The compiled user dictionary this process analyses with, or None."""
    return _process["user_dict"]


def system_dictionary():
    """The loaded Sudachi dictionary (with the user dictionary, if any)."""
    return _dictionary()["dictionary"]


def _dictionary():
    """The Sudachi dictionary, loaded once and kept: processes forked after
    it is loaded (the server's workers, see search/serve.py) inherit what
    Sudachi built from it rather than loading it again. Tokenizers, which
    are not thread-safe, are made per thread and process (_sudachi)."""
    if _process["dictionary"] is None:
        with _dictionary_lock:
            if _process["dictionary"] is None:
                from sudachipy import Dictionary

                _process["words"] = {}
                _process["stop_pos"] = None
                user = _process["user_dict"]
                try:
                    _process["dictionary"] = Dictionary(
                        config=json.dumps({"userDict": [user]})) if user else Dictionary()
                except Exception:  # noqa: BLE001 - Sudachi's own error type
                    if not user or os.path.exists(user):
                        raise
                    # A generation's dictionary a reindex has since dropped:
                    # Sudachi's alone meanwhile, not an error, and not kept
                    # (the next use_user_dictionary of that path loads it).
                    _process["user_dict"] = None
                    _process["dictionary"] = Dictionary()
    return _process


def load():
    """Load the dictionary (and what the analyzer derives from it) now."""
    _stop_pos_ids(_dictionary())


MADV_DONTNEED = 4  # <sys/mman.h> on Linux


def release_dictionary_pages():
    """Drop from this process the pages of the dictionary file it has read.

    Sudachi maps its 200 MB dictionary file read-only, and loading it reads
    ~75 MB, mostly never needed again to tokenize. A fork passes no mapped
    file pages to the child (Linux copies no page tables for file
    mappings): each worker maps the pages its own tokenizing touches, and
    the server's master, which loads the dictionary only so the workers
    inherit what Sudachi built from it, would keep its ~75 MB counted in
    its RSS for nothing. The pages stay in the page cache; a later read
    maps them again. Returns the size of the mappings released (0 where
    there is no /proc or madvise: the pages then simply stay)."""
    import ctypes

    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        with open("/proc/self/maps") as maps:
            lines = maps.read().splitlines()
    except (OSError, AttributeError):
        return 0
    dropped = 0
    for line in lines:
        fields = line.split(maxsplit=5)
        # Only shared read-only mappings of a dictionary (Sudachi's are
        # "r--s"): their pages are the file's, so dropping them loses nothing.
        if len(fields) < 6 or not fields[5].endswith(".dic") or fields[1][:2] != "r-" \
                or fields[1][3] != "s":
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if madvise(start, end - start, MADV_DONTNEED) == 0:
            dropped += end - start
    return dropped


def sudachi_tokenizer():
    """This thread's Sudachi tokenizer (split mode C, with parts of speech),
    for a caller that needs what the analyzer drops: the part of speech."""
    return _sudachi()[1]


def _sudachi():
    """This thread's tokenizer (a tokenizer is not thread-safe)."""
    pid = os.getpid()
    state = getattr(_local, "state", None)
    if state is None or state[0] != pid or state[4] != _process["version"] \
            or _process["dictionary"] is None:
        from sudachipy import SplitMode

        process = _dictionary()
        tokenizer = process["dictionary"].tokenizer(
            SplitMode.C, fields={"pos", "normalized_form", "split_a"})
        state = _local.state = (pid, tokenizer, process, SplitMode.A, process["version"])
    return state


def _stop_pos_ids(process):
    ids = process["stop_pos"]
    if ids is None:
        dictionary = process["dictionary"]
        ids = set()
        i = 0
        while True:
            pos = dictionary.pos_of(i)
            if pos is None:
                break
            if pos[0] in STOP_POS:
                ids.add(i)
            i += 1
        ids = process["stop_pos"] = frozenset(ids)
    return ids


def search_form(surface, normalized):
    """The indexed text of a word: Latin words lowercased as typed (width
    folded), everything else Sudachi's normalized form, width folded."""
    folded = unicodedata.normalize("NFKC", surface)
    if folded.isascii():
        return folded.lower().strip()
    return unicodedata.normalize("NFKC", normalized).lower().strip()


class WordInfo:
    """What the analyzer needs of one dictionary word, computed once per
    process: its search form (None for stop words), its mode-A parts as
    (form or None, start offset, end offset) within the word, and how many
    positions it takes (none for whitespace, which only separates words)."""

    __slots__ = ("form", "parts", "width", "noun")

    def __init__(self, form, parts, width, noun=False):
        self.form = form
        self.parts = parts
        self.width = width
        self.noun = noun  # a common or proper noun (not a counter): what an item is about


def _word_info(morpheme, surface, pos_id, stop_ids, mode_a, words):
    if pos_id in stop_ids:
        info = WordInfo(None, (), 0 if surface.isspace() else 1)
    else:
        form = search_form(surface, morpheme.normalized_form()) or None
        parts = _parts(morpheme, surface, stop_ids, mode_a)
        info = WordInfo(form, parts, len(parts) or 1,
                        form is not None and _is_content_noun(morpheme.part_of_speech()))
    words[(surface, pos_id)] = info
    return info


def _is_content_noun(pos):
    return pos[0] == "名詞" and pos[1] in ("普通名詞", "固有名詞") and pos[2] != "助数詞可能"


# The reading (katakana) of each kanji word asked for in this process, as
# Sudachi reads it: what a query typed in hiragana is matched against
# (search/readings.py).
_READINGS = {}
READING_MAX_CHARS = 12  # longer terms (numbers, long compounds) are not typed as readings
_KANJI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def reading_of(form):
    """The lexicon's reading of a kanji word as one dictionary word ("" if
    it has none), or None for a form that is no kanji word. Read once a
    process, with a tokenizer of its own (the indexing tokenizer computes no
    readings: they cost 6 % of its time)."""
    found = _READINGS.get(form)
    if found is not None:
        return found
    if len(form) > READING_MAX_CHARS or not _KANJI.search(form):
        return None
    reading = ""
    try:
        found = _reading_tokenizer().tokenize(form)
    except Exception:  # noqa: BLE001 - a term Sudachi refuses: no reading
        found = ()
    if len(found) == 1 and search_form(found[0].surface(), found[0].normalized_form()) == form:
        reading = found[0].reading_form()
    _READINGS[form] = reading if reading and reading != form else ""
    return _READINGS[form]


def _reading_tokenizer():
    state = getattr(_local, "readings", None)
    if state is None or state[0] != os.getpid():
        from sudachipy import SplitMode

        tokenizer = _dictionary()["dictionary"].tokenizer(
            SplitMode.C, fields={"pos", "normalized_form", "reading_form"})
        state = _local.readings = (os.getpid(), tokenizer)
    return state[1]


def _parts(morpheme, surface, stop_ids, mode_a):
    split = [m for m in morpheme.split(mode_a) if m.surface()]
    if len(split) < 2:
        return ()
    parts = []
    offset = 0
    for m in split:
        part_surface = m.surface()
        end = offset + len(part_surface)
        form = None if m.part_of_speech_id() in stop_ids else (
            search_form(part_surface, m.normalized_form()) or None)
        parts.append((form, offset, end))
        offset = end
    if offset != len(surface):
        # Parts that do not spell the word cannot be given exact offsets.
        return ()
    return tuple(parts)


def chunks(text, limit=CHUNK_CHARS):
    """Cut text into pieces Sudachi accepts, at line or sentence ends."""
    start = 0
    n = len(text)
    while n - start > limit:
        end = start + limit
        cut = text.rfind("\n", start + limit // 2, end)
        if cut < 0:
            cut = max(text.rfind(c, start + limit // 2, end) for c in "。．.!?！？ 　")
        cut = end if cut < 0 else cut + 1
        yield start, text[start:cut]
        start = cut
    if start < n:
        yield start, text[start:]


def tokenize_chunk(tokenizer, text, offset):
    """Yield (morpheme list, offset) for text, halving what Sudachi refuses."""
    from sudachipy.errors import SudachiError

    try:
        yield tokenizer.tokenize(text), offset
    except SudachiError:
        if len(text) <= 1:
            return  # a single character Sudachi cannot take: skipped
        half = len(text) // 2
        cut = text.rfind("\n", 0, half) + 1 or half
        yield from tokenize_chunk(tokenizer, text[:cut], offset)
        yield from tokenize_chunk(tokenizer, text[cut:], offset + cut)


def _morphemes(text):
    """Yield (morphemes, offset) for text, chunked, with what is needed to
    describe them: (words cache, stop POS ids, mode A)."""
    pid, tokenizer, process, mode_a, _ = _sudachi()
    for base, chunk in chunks(text):
        yield from tokenize_chunk(tokenizer, chunk, base)


def _lookup():
    pid, tokenizer, process, mode_a, _ = _sudachi()
    return process["words"], _stop_pos_ids(process), mode_a


def iter_words(text):
    """Yield (WordInfo, start, end, position) for each word of text, stop words
    included (their form is None). Positions count mode-A units."""
    words, stop_ids, mode_a = _lookup()
    position = 0
    for morphemes, start in _morphemes(text):
        for m in morphemes:
            surface = m.surface()
            end = start + len(surface)
            pos_id = m.part_of_speech_id()
            info = words.get((surface, pos_id))
            if info is None:
                info = _word_info(m, surface, pos_id, stop_ids, mode_a, words)
            yield info, start, end, position
            position += info.width
            start = end


def postings(text):
    """{form: array('i', [position, startchar, endchar, ...])}: exactly what
    the analyzer's token stream says about text (a test holds them equal),
    built without Token objects and filter generators: the indexing path.
    (iter_words' loop, inlined: a generator step per morpheme was ~11 % of
    the analyzer's own Python time.)"""
    words, stop_ids, mode_a = _lookup()
    out = Postings()
    nouns = out.nouns = set()
    position = 0
    word, posted = words.get, out.get  # bound once: ~10 % of the loop's time
    for morphemes, start in _morphemes(text):
        for m in morphemes:
            surface = m.surface()
            end = start + len(surface)
            info = word((surface, m.part_of_speech_id()))
            if info is None:
                info = _word_info(m, surface, m.part_of_speech_id(), stop_ids, mode_a, words)
            form = info.form
            if form is not None:
                a = posted(form)
                if a is None:
                    a = out[form] = array("i")
                a.extend((position, start, end))
                if info.noun:
                    nouns.add(form)
                if info.parts:
                    _add_parts(out, info, form, position, start)
            position += info.width
            start = end
    return out


class Postings(dict):
    """postings()' answer; ``nouns``: the forms that stand in the text as
    content nouns, whole words (not a compound's parts). What an item is
    about (story grouping, search/ingest/stories.py) is read from the text
    itself, so that it does not depend on what else a process analyzed."""

    __slots__ = ("nouns",)


def _add_parts(out, info, form, position, start):
    for i, (part, s, e) in enumerate(info.parts):
        if part is None or part == form:
            continue
        a = out.get(part)
        if a is None:
            a = out[part] = array("i")
        a.extend((position + i, start + s, start + e))


class SudachiTokenizer(Tokenizer):
    """Segments Japanese text in Sudachi's split mode C; each token's text is
    the word's search form and ``token.parts`` holds its mode-A parts."""

    def __eq__(self, other):
        return other.__class__ is self.__class__

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True,
                 mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            t.stopped = False
            t.parts = ()
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar = start_char
                t.endchar = start_char + len(value)
            yield t
            return
        for info, start, end, position in iter_words(value):
            form = info.form
            if form is None:
                if removestops:
                    continue
                t.text = value[start:end]
                t.stopped = True
            else:
                t.text = form
                t.stopped = False
            t.parts = info.parts
            t.boost = 1.0
            if keeporiginal:
                t.original = value[start:end]
            if positions:
                t.pos = start_pos + position
            if chars:
                t.startchar = start_char + start
                t.endchar = start_char + end
            yield t


class CompoundPartsFilter(Filter):
    """After a compound, also yields its mode-A parts (stop parts dropped),
    each at its own position and characters, so parts find the compound."""

    def __call__(self, tokens):
        for t in tokens:
            yield t
            parts = t.parts
            if not parts or t.stopped:
                continue
            text, pos, startchar = t.text, getattr(t, "pos", None), getattr(t, "startchar", None)
            chars = t.chars
            for i, (form, start, end) in enumerate(parts):
                if form is None or form == text:
                    continue
                t.text = form
                if t.positions:
                    t.pos = pos + i
                if chars:
                    t.startchar = startchar + start
                    t.endchar = startchar + end
                yield t


class JapaneseAnalyzer(CompositeAnalyzer):
    """SudachiTokenizer | CompoundPartsFilter, with ``postings()`` as the
    fast path for indexing (see search.index.formats)."""

    def postings(self, value):
        return postings(value)


def japanese_analyzer():
    """The analyzer of every Japanese text field, at index and query time."""
    return JapaneseAnalyzer(SudachiTokenizer(), CompoundPartsFilter())


_HIRAGANA = re.compile(r"^[\u3041-\u3096\u30fc]+$")


def katakana(text):
    """ぺすこふ → ペスコフ: hiragana to katakana, so a reading typed in
    hiragana can find a katakana word (Sudachi mis-segments hiragana names)."""
    return "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in text)


def is_hiragana(text):
    return bool(_HIRAGANA.match(text))


def fold(text):
    """Width and case folding for text compared outside the analyzer
    (prefixes typed halfway, filters): ＮＡＴＯ → nato, ｳｸﾗｲﾅ → ウクライナ."""
    return unicodedata.normalize("NFKC", text).lower()
