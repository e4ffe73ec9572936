"""A posting format for the Japanese text fields: positions and characters,
packed as machine integers.

Whoosh's ``Characters`` format pickles a list of delta tuples per posting and
builds it from Token objects; at indexing time that is a large share of the
cost. This format stores the same information (position, startchar, endchar
for each occurrence) as a flat ``array('i')`` and takes it from the
analyzer's ``postings()`` fast path when it has one. Readers decode it like
``Characters``: positions for phrases, characters for snippets.

It is pickled into the index with the schema, so it must stay at this import
path.
"""

from array import array

from whoosh import fields, formats
from whoosh.analysis import unstopped


def _ints(valuestring):
    a = array("i")
    a.frombytes(valuestring)
    return a


class PackedCharacters(formats.Format):
    def word_values(self, value, analyzer, **kwargs):
        fb = self.field_boost
        fast = getattr(analyzer, "postings", None)
        if fast is not None and not isinstance(value, (list, tuple)):
            by_word = fast(value)
        else:
            by_word = {}
            stream = analyzer(value, positions=True, chars=True, **kwargs)
            for t in unstopped(stream):
                by_word.setdefault(t.text, array("i")).extend((t.pos, t.startchar, t.endchar))
        for word, a in by_word.items():
            freq = len(a) // 3
            yield word, freq, fb * freq, a.tobytes()

    def encode(self, poslist):
        return array("i", [n for triple in poslist for n in triple]).tobytes()

    def decode_frequency(self, valuestring):
        return len(valuestring) // 12

    def decode_weight(self, valuestring):
        return self.field_boost * (len(valuestring) // 12)

    def decode_positions(self, valuestring):
        return _ints(valuestring)[0::3].tolist()

    def decode_characters(self, valuestring):
        a = _ints(valuestring)
        return list(zip(a[0::3], a[1::3], a[2::3]))

    def decode_position_boosts(self, valuestring):
        return [(pos, 1.0) for pos in self.decode_positions(valuestring)]

    def combine(self, vs):
        merged = sorted({t for v in vs for t in self.decode_characters(v)})
        return self.encode(merged)


class JapaneseText(fields.TEXT):
    """TEXT with positions and characters in the packed format."""

    def __init__(self, analyzer, stored=False, field_boost=1.0):
        super().__init__(analyzer=analyzer, stored=stored, chars=True, field_boost=field_boost)
        self.format = PackedCharacters(field_boost=field_boost)
