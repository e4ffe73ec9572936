"""The words of a query found in a whole text (the item page): the text is
analyzed like the index was, so inflected, width-variant and compound forms
are found just as search matched them."""

from .. import analysis
from .. import readings
from .. import synonyms as synonyms_module
from .builder import KANJI_OR_KATAKANA, a_terms
from .snippets import merge


class QueryWords:
    _analyzer = analysis.japanese_analyzer()

    def __init__(self, groups, synonyms=True, read_as=None):
        self.forms, self.prefixes = set(), []
        table = synonyms_module.get() if synonyms else None
        for unit in (u for group in groups for u in group if not u.negated):
            texts = [unit.text]
            if analysis.is_hiragana(unit.text):
                texts.append(analysis.katakana(unit.text))
                if not unit.phrase:
                    self.forms.update(readings.forms(read_as, unit.text))
            for text in texts:
                terms, compounds, _ = a_terms(text)
                self.forms.update(form for form, _ in terms)
                self.forms.update(compounds)
                if table is not None and not unit.phrase:
                    self.forms.update(table.forms_of(text, [f for f, _ in terms], compounds))
            prefix = analysis.fold(unit.text).strip()
            short = len(prefix) == 1 and bool(KANJI_OR_KATAKANA.match(prefix))
            if (unit.prefix or unit.last) and len(prefix) >= 2 or short or (unit.prefix and prefix):
                self.prefixes.append(prefix)
                if analysis.is_hiragana(prefix):  # typed so far: its katakana, its readings
                    self.prefixes.append(analysis.katakana(prefix))
                    self.forms.update(readings.completions(read_as, prefix))
        self.prefixes = tuple(self.prefixes)

    def matches(self, form):
        return form in self.forms or (self.prefixes and form.startswith(self.prefixes))

    def spans(self, text):
        """Where the query's words are in text: sorted, merged character ranges."""
        return tuple(merge([(t.startchar, t.endchar) for t in self._analyzer(text, chars=True)
                            if self.matches(t.text)]))
