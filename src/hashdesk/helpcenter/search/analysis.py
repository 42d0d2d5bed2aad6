"""Text analysis per locale: the same function turns article text and queries into terms.

- Every locale: Unicode NFKC (full-width letters, ligatures, compatibility forms), Arabic and
  Persian digits to ASCII (error codes, amounts), then case folding.
- European languages with a Snowball stemmer (PyStemmer): stemmed, then stripped of accents
  where readers commonly leave them out ("contrasena" finds "contraseña"). Turkish folds its
  dotted and dotless i before lower-casing, as the language does.
- Arabic and Persian: diacritics and tatweel removed, letter variants unified, then stemmed.
- Ukrainian and Vietnamese: no stemmer is available or safe; Ukrainian loses its apostrophe
  variants and a few inflection endings, Vietnamese keeps its tone marks (they change meaning).
- Chinese, Japanese, Korean and Thai (no spaces between words): character bigrams plus
  unigrams over each run of those scripts; Latin words inside them go the English way.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import cache

import Stemmer

from hashdesk.helpcenter.search.stopwords import STOPWORDS

SNOWBALL = {
    "en": "english", "ru": "russian", "es": "spanish", "pt": "portuguese", "fr": "french",
    "de": "german", "it": "italian", "tr": "turkish", "id": "indonesian", "ar": "arabic",
    "fa": "persian", "nl": "dutch",
}  # fmt: skip
# Locales whose readers often type without accents, and where dropping them merges no words
# that a help center needs apart (after stemming).
ACCENT_FOLDING = frozenset({"en", "es", "pt", "fr", "de", "it", "nl", "tr", "id"})
CHARACTER_NGRAM_LOCALES = frozenset({"zh-Hans", "zh-Hant", "ja", "ko", "th"})

# Letters, digits and the combining marks that belong inside words (Thai vowels and tones,
# Arabic harakat, Latin combining accents); "_" and punctuation separate words.
_MARKS = "\u0300-\u036f\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u064b-\u065f\u0670\u200c"
WORD = re.compile(rf"(?:[^\W_]|[{_MARKS}])+")
# Han, kana, Hangul and Thai: scripts written without spaces between words.
_NGRAM_SCRIPT = (
    "\u0e00-\u0e7f\u1100-\u11ff\u3040-\u30ff\u3131-\u318e\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff"
)
NGRAM_RUN = re.compile(rf"[{_NGRAM_SCRIPT}]+")
HAS_NGRAM_SCRIPT = re.compile(rf"[{_NGRAM_SCRIPT}]")
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_ARABIC_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u0640]")
_ARABIC_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي"})
_PERSIAN_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "أ": "ا", "إ": "ا",
                                  "ؤ": "و", "\u200c": ""})  # fmt: skip
_UKRAINIAN_APOSTROPHES = re.compile("(?<=\\w)['’ʼ`](?=\\w)")
# Ukrainian inflection endings, longest first; stripped only from words long enough that the
# stem still says which word it was (a light stemmer, not Snowball).
_UKRAINIAN_ENDINGS = tuple(sorted({
    "ами", "ями", "ові", "еві", "ого", "ому", "ими", "іми", "ій", "их", "ім", "ою", "ею",
    "ям", "ах", "ях", "ів", "їв", "ий", "ої", "ує", "ють", "ать", "ять", "ити", "ння",
    "нню", "нням", "а", "я", "у", "ю", "і", "и", "о", "е", "ь", "ї",
}, key=lambda ending: (-len(ending), ending)))  # fmt: skip
UNIGRAM_QUERY_WEIGHT = 0.3  # in CJK queries, single characters are weak evidence next to bigrams


@dataclass(frozen=True)
class Term:
    """One analysed term of a query, with where it came from (for typo tolerance)."""

    text: str
    surface: str  # the folded word before stemming; "" for CJK n-grams
    weight: float = 1.0


@dataclass
class Analyzer:
    """The analysis of one locale. Thread-safe: the term cache only ever grows."""

    locale: str
    _stemmer: Stemmer.Stemmer | None = field(default=None, repr=False)
    _cache: dict[str, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        algorithm = SNOWBALL.get(self.locale)
        if algorithm is None and self.locale in CHARACTER_NGRAM_LOCALES:
            algorithm = "english"  # Latin words in CJK text are mostly English product terms
        self._stemmer = Stemmer.Stemmer(algorithm) if algorithm else None

    def normalize(self, text: str) -> str:
        """NFKC, digits, locale letter rules and case folding: what the words are cut from."""
        text = unicodedata.normalize("NFKC", text).translate(_DIGITS)
        if self.locale == "tr":
            text = text.replace("I", "ı").replace("İ", "i")
        text = text.casefold()
        if self.locale == "ar":
            text = _ARABIC_DIACRITICS.sub("", text).translate(_ARABIC_LETTERS)
        elif self.locale == "fa":
            text = _ARABIC_DIACRITICS.sub("", text).translate(_PERSIAN_LETTERS)
        elif self.locale == "uk":
            text = _UKRAINIAN_APOSTROPHES.sub("", text)
        return text

    def words(self, text: str) -> list[str]:
        """The folded surface words of ``text`` (CJK runs stay whole)."""
        return WORD.findall(self.normalize(text))

    def terms(self, text: str) -> list[str]:
        """Index terms of ``text``: stems for word scripts, unigrams + bigrams for CJK/Thai."""
        out: list[str] = []
        for word in self.words(text):
            if HAS_NGRAM_SCRIPT.search(word):
                out.extend(self._mixed_terms(word))
            else:
                out.append(self.stem(word))
        return out

    def query_terms(self, text: str) -> list[Term]:
        """Terms of a query, each once, with its surface word and weight; function words
        are left out unless the query has nothing else."""
        found: dict[str, Term] = {}
        words = self.words(text)
        stopwords = STOPWORDS.get(self.locale, frozenset())
        content = [word for word in words if word not in stopwords]
        for word in content or words:
            for term in self._query_word(word):
                known = found.get(term.text)
                if known is None or known.weight < term.weight:
                    found[term.text] = term
        return list(found.values())

    def _query_word(self, word: str) -> list[Term]:
        if not HAS_NGRAM_SCRIPT.search(word):
            return [Term(self.stem(word), word)]
        terms: list[Term] = []
        for piece in _split_runs(word):
            if not NGRAM_RUN.fullmatch(piece):
                terms.append(Term(self.stem(piece), piece))
            elif len(piece) == 1:
                terms.append(Term(piece, ""))
            else:
                terms.extend(Term(gram, "") for gram in _bigrams(piece))
                terms.extend(Term(char, "", UNIGRAM_QUERY_WEIGHT) for char in piece)
        return terms

    def _mixed_terms(self, word: str) -> list[str]:
        out: list[str] = []
        for piece in _split_runs(word):
            if NGRAM_RUN.fullmatch(piece):
                out.extend(piece)
                out.extend(_bigrams(piece))
            else:
                out.append(self.stem(piece))
        return out

    def stem(self, word: str) -> str:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        term = self._stem_uncached(word)
        with self._lock:
            self._cache[word] = term
        return term

    def _stem_uncached(self, word: str) -> str:
        if self.locale == "uk":
            return _ukrainian_stem(word)
        stemmed = self._stemmer.stemWord(word) if self._stemmer is not None else word
        if self.locale in ACCENT_FOLDING or self.locale in CHARACTER_NGRAM_LOCALES:
            stemmed = fold_accents(stemmed)
        return stemmed


def _split_runs(word: str) -> list[str]:
    """``word`` cut where it switches between CJK/Thai and other scripts ("usdt提现")."""
    pieces: list[str] = []
    position = 0
    for match in NGRAM_RUN.finditer(word):
        if match.start() > position:
            pieces.append(word[position : match.start()])
        pieces.append(match.group())
        position = match.end()
    if position < len(word):
        pieces.append(word[position:])
    return pieces


def _bigrams(run: str) -> list[str]:
    return [run[index : index + 2] for index in range(len(run) - 1)]


def fold_accents(word: str) -> str:
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFD", word.replace("ı", "i"))
    stripped = "".join(char for char in decomposed if unicodedata.category(char) != "Mn")
    return unicodedata.normalize("NFC", stripped)


def _ukrainian_stem(word: str) -> str:
    for ending in _UKRAINIAN_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return word[: -len(ending)]
    return word


@cache
def analyzer_for(locale: str) -> Analyzer:
    """The process-wide analyzer of ``locale`` (unknown locales get plain folding)."""
    return Analyzer(locale)
