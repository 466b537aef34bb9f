"""Perturbations: label-preserving invariants (property-based), determinism by seed, bad input, dictionaries."""

from __future__ import annotations

import gzip
import unicodedata
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xner.data import from_lists, tag_names
from xner.labels import validate_iob2
from xner.robustness.perturb import (
    BilingualDictionary,
    CharacterNoise,
    CodeSwitch,
    Compose,
    ContextReplacement,
    Entity,
    ForeignNameReplacement,
    Masking,
    PerturbationContext,
    PerturbationUnavailable,
    PerturbationWarning,
    RandomTokens,
    Unavailable,
    UnseenEntityReplacement,
    available,
    build,
)
from xner.robustness.perturb.base import entity_spans, iob2_span_tags, is_word, replace_spans
from xner.robustness.perturb.dictionaries import (
    DictionaryError,
    DictionaryNotFound,
    decode_b64_number,
    find_freedict,
    installed_freedict,
    parse_entry,
)
from xner.robustness.perturb.names import locale_supports, split_name
from xner.robustness.perturb.noise import change_case, strip_diacritics

# ------------------------------------------------------------------------------------------ strategies

WORDS = ["casa", "de", "Cidade", "rio", "ação", "über", "é", "o", "grande", "mar", "São", "ano", "x"]
PUNCT = [",", ".", "(", ")", "1990", "3X0"]
ENT_WORDS = ["Lisboa", "Paris", "Maria", "Silva", "Banco", "Brasil", "João", "Porto", "Ana", "Unilever"]
TYPES = ["PER", "ORG", "LOC"]


@st.composite
def sentences(draw, max_segments: int = 8):
    """One sentence with valid IOB2 tags: a mix of context tokens and entities of 1–3 tokens."""
    toks: list[str] = []
    tags: list[str] = []
    for _ in range(draw(st.integers(1, max_segments))):
        if draw(st.booleans()):
            toks.append(draw(st.sampled_from(WORDS + PUNCT)))
            tags.append("O")
        else:
            typ = draw(st.sampled_from(TYPES))
            n = draw(st.integers(1, 3))
            toks += [draw(st.sampled_from(ENT_WORDS)) for _ in range(n)]
            tags += iob2_span_tags(typ, n)
    return toks, tags


corpora = st.lists(sentences(), min_size=1, max_size=6)

# Resources shared by the perturbations under test (built once: Faker locales take a moment to check).
SOURCE = [
    (["Maria", "mora", "em", "Lisboa", "de", "casa"], ["B-PER", "O", "O", "B-LOC", "O", "O"]),
    (["Banco", "Brasil", "o", "rio", "grande"], ["B-ORG", "I-ORG", "O", "O", "O"]),
    (["Paris", "ano", "mar"], ["B-LOC", "O", "O"]),
]
POOL = [
    (["Kwame", "Mensah", "viaja", "para", "Accra"], ["B-PER", "I-PER", "O", "O", "B-LOC"]),
    (["Grupo", "Tanaka", "Limitada", "abriu", "loja"], ["B-ORG", "I-ORG", "I-ORG", "O", "O"]),
    (["Nairobi", "é", "bela", "cidade", "nova"], ["B-LOC", "O", "O", "O", "O"]),
    (["Maria", "Lisboa", "velha", "praia"], ["B-PER", "B-LOC", "O", "O"]),
]
DICT = BilingualDictionary.from_pairs(
    [
        ("casa", "hogar"),
        ("rio", "río"),
        ("grande", "gran"),
        ("mar", "océano"),
        ("ano", "año"),
        ("de", "de"),
        ("o", "el lo"),
    ],
    "pt",
    "es",
    provenance="test",
)


def _unseen(rate=1.0):
    return UnseenEntityReplacement(
        [Entity(t, tuple(toks[s:e])) for toks, tags in SOURCE for t, s, e in entity_spans(tags)],
        [Entity(t, tuple(toks[s:e])) for toks, tags in POOL for t, s, e in entity_spans(tags)],
        rate=rate,
    )


def _context(rate=0.7, vectors=None):
    src_vocab = {w for toks, _ in SOURCE for w in toks} | set(WORDS[:6])
    return ContextReplacement(src_vocab, [t for t, _ in POOL], [g for _, g in POOL], rate=rate, vectors=vectors)


FOREIGN = ForeignNameReplacement(locales=["ru_RU", "hi_IN", "de_DE", "sw"], rate=0.8)

# name → (perturbation, what it may change: "entities" | "context" | "chars" | "insert" | "delete")
PERTURBATIONS = {
    "unseen_entities": (_unseen(0.9), "entities"),
    "foreign_names": (FOREIGN, "entities"),
    "context_band": (_context(), "context"),
    "mask": (Masking(0.5), "context"),
    "delete": (Masking(0.5, mode="delete"), "delete"),
    "random_insert": (RandomTokens(["bla", "zum", "ri"], 0.3, mode="insert"), "insert"),
    "random_replace": (RandomTokens(["bla", "zum", "ri"], 0.5, mode="replace"), "context"),
    "char_noise": (CharacterNoise(0.5), "chars"),
    "char_noise_context": (CharacterNoise(0.7, target="context"), "context"),
    "code_switch": (CodeSwitch(DICT, 0.8), "context"),
    "code_switch_multiword": (CodeSwitch(DICT, 0.8, multiword=True), "insert"),
    "compose": (Compose([Masking(0.3), CharacterNoise(0.3, target="context"), RandomTokens(["zum"], 0.2)]), "insert"),
}


def _entities(toks, tags):
    return [(t, toks[s:e]) for t, s, e in entity_spans(tags)]


def _context_tokens(toks, tags):
    return [w for w, g in zip(toks, tags, strict=True) if g == "O"]


def _is_subsequence(small, big) -> bool:
    it = iter(big)
    return all(any(x == y for y in it) for x in small)


def _run(p, corpus, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerturbationWarning)
        return p.apply_lists([t for t, _ in corpus], [g for _, g in corpus], seed, lang="pt")


# ------------------------------------------------------------------------------------ invariants


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corpus=corpora, seed=st.integers(0, 2**31))
def test_label_preserving_invariants(name, corpus, seed):
    p, scope = PERTURBATIONS[name]
    res = _run(p, corpus, seed)
    rep = res.report
    assert len(res.tokens) == len(corpus) == len(res.tags)
    changed_sentences = 0
    changed_positions = 0
    for (toks, tags), ntoks, ntags in zip(corpus, res.tokens, res.tags, strict=True):
        # aligned, valid IOB2, same entity types in the same order
        assert len(ntoks) == len(ntags)
        assert validate_iob2(ntags) == []
        assert [t for t, _ in _entities(ntoks, ntags)] == [t for t, _ in _entities(toks, tags)]
        assert all(w and not any(c.isspace() for c in w) for w in ntoks)
        if not rep.applied:
            assert (ntoks, ntags) == (toks, tags)
            continue
        changed_sentences += ntoks != toks
        if scope == "entities":  # context untouched; entities re-tagged B- I-* for their new length
            assert _context_tokens(ntoks, ntags) == _context_tokens(toks, tags)
        if scope in ("context", "delete", "insert"):  # entities untouched
            assert _entities(ntoks, ntags) == _entities(toks, tags)
        if scope in ("context", "chars"):  # same length, same tags; non-words untouched
            assert ntags == tags
            changed_positions += sum(a != b for a, b in zip(toks, ntoks, strict=True))
            assert all(a == b for a, b in zip(toks, ntoks, strict=True) if not any(c.isalpha() for c in a))
        if scope == "delete":
            assert _is_subsequence(ntoks, toks) and len(ntoks) >= 1
            # only context words go: the context shrinks to a subsequence, entities (checked above) stay
            assert _is_subsequence(_context_tokens(ntoks, ntags), _context_tokens(toks, tags))
            assert all(is_word(w) for w in (Counter(toks) - Counter(ntoks)))
        if scope == "insert" and name == "random_insert":
            assert _is_subsequence(toks, ntoks)
    if rep.applied:
        assert rep.sentences_touched == changed_sentences
        if scope in ("context", "chars"):
            assert rep.tokens_touched == changed_positions
        if scope == "delete":
            assert rep.tokens_deleted == sum(len(t) for t, _ in corpus) - sum(len(t) for t in res.tokens)
        if name == "random_insert":
            assert rep.tokens_inserted == sum(len(t) for t in res.tokens) - sum(len(t) for t, _ in corpus)
        assert rep.tokens_touched > 0
    else:
        assert rep.reason


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
@settings(max_examples=15, deadline=None)
@given(corpus=corpora, seed=st.integers(0, 2**31))
def test_deterministic_by_seed(name, corpus, seed):
    p, _ = PERTURBATIONS[name]
    a, b = _run(p, corpus, seed), _run(p, corpus, seed)
    assert (a.tokens, a.tags) == (b.tokens, b.tags)
    assert a.report.to_dict() == b.report.to_dict()


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
@settings(max_examples=15, deadline=None)
@given(corpus=st.lists(sentences(), min_size=2, max_size=5), seed=st.integers(0, 2**31))
def test_result_of_a_sentence_does_not_depend_on_the_others(name, corpus, seed):
    p, _ = PERTURBATIONS[name]
    whole = _run(p, corpus, seed)
    if not whole.report.applied:
        return
    part = _run(p, corpus[:1], seed)
    if part.report.applied:
        assert (part.tokens[0], part.tags[0]) == (whole.tokens[0], whole.tags[0])


def test_seeds_give_different_perturbations():
    corpus = [
        (
            ["Maria", "mora", "em", "Lisboa", "de", "casa", "grande", "rio", "mar"],
            ["B-PER", "O", "O", "B-LOC", "O", "O", "O", "O", "O"],
        )
    ] * 20
    for name in ("foreign_names", "mask", "char_noise", "random_insert", "unseen_entities"):
        p, _ = PERTURBATIONS[name]
        outs = {str(_run(p, corpus, s).tokens) for s in range(3)}
        assert len(outs) == 3, name


@pytest.mark.parametrize("name", ["mask", "delete", "random_insert", "random_replace", "char_noise", "code_switch"])
def test_rate_zero_changes_nothing_and_says_so(name):
    builders = {
        "mask": lambda: Masking(0.0),
        "delete": lambda: Masking(0.0, mode="delete"),
        "random_insert": lambda: RandomTokens(["a"], 0.0),
        "random_replace": lambda: RandomTokens(["a"], 0.0, mode="replace"),
        "char_noise": lambda: CharacterNoise(0.0),
        "code_switch": lambda: CodeSwitch(DICT, 0.0),
    }
    corpus = [(["casa", "de", "Maria"], ["O", "O", "B-PER"])]
    with pytest.warns(PerturbationWarning, match="nothing was changed"):
        res = builders[name]().apply_lists([corpus[0][0]], [corpus[0][1]], 0, lang="pt")
    assert not res.report.applied and res.tokens == [corpus[0][0]]


# --------------------------------------------------------------------------------- entity families


def test_unseen_entities_replaces_only_seen_ones_with_unseen_same_type():
    p = _unseen()
    toks = ["Maria", "viu", "Kwame", "em", "Paris", "e", "Banco", "Brasil"]
    tags = ["B-PER", "O", "B-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG"]
    res = p.apply_lists([toks], [tags], seed=3, lang="pt")
    new_ents = _entities(res.tokens[0], res.tags[0])
    assert [t for t, _ in new_ents] == ["PER", "PER", "LOC", "ORG"]
    assert new_ents[1] == ("PER", ["Kwame"])  # not seen in source: untouched
    seen = {"maria", "lisboa", "banco brasil", "paris"}
    for _, words in (new_ents[0], new_ents[2], new_ents[3]):
        assert " ".join(words).casefold() not in seen
    # the pool lost the seen surfaces ("Maria", "Lisboa" occur in POOL too)
    assert all(" ".join(e.tokens).casefold() not in seen for ents in p.pool.values() for e in ents)
    assert res.report.entities_replaced == Counter({"PER": 1, "LOC": 1, "ORG": 1})
    assert len(res.report.records) == 3 and {r["type"] for r in res.report.records} == {"PER", "LOC", "ORG"}


def test_unseen_entities_retags_new_lengths():
    p = UnseenEntityReplacement([Entity("ORG", ("ONU",))], [Entity("ORG", ("Banco", "Mundial", "de", "Fomento"))])
    res = p.apply_lists([["a", "ONU", "ONU", "b"]], [["O", "B-ORG", "B-ORG", "O"]], seed=0)
    assert res.tokens[0] == ["a", "Banco", "Mundial", "de", "Fomento", "Banco", "Mundial", "de", "Fomento", "b"]
    assert res.tags[0] == ["O", "B-ORG", "I-ORG", "I-ORG", "I-ORG", "B-ORG", "I-ORG", "I-ORG", "I-ORG", "O"]
    assert res.report.tokens_inserted == 6 and res.report.tokens_touched == 2 + 6


def test_unseen_entities_without_overlap_is_not_applied():
    p = _unseen()
    with pytest.warns(PerturbationWarning, match="no entity of the test set occurs"):
        res = p.apply_lists([["Kwame", "viu"]], [["B-PER", "O"]], seed=0)
    assert not res.report.applied and "source training data" in res.report.reason


def test_unseen_entities_missing_pool_type_is_counted():
    p = UnseenEntityReplacement([Entity("PER", ("Maria",)), Entity("LOC", ("Paris",))], [Entity("PER", ("Kwame",))])
    res = p.apply_lists([["Maria", "em", "Paris"]], [["B-PER", "O", "B-LOC"]], seed=0)
    assert res.report.applied
    assert res.report.entities_replaced == Counter({"PER": 1})
    assert res.report.entities_unavailable == Counter({"LOC": 1})
    assert res.tokens[0] == ["Kwame", "em", "Paris"]
    p2 = UnseenEntityReplacement([Entity("LOC", ("Paris",))], [Entity("PER", ("Kwame",))])
    with pytest.warns(PerturbationWarning, match="no unseen replacement entity"):
        assert not p2.apply_lists([["em", "Paris"]], [["O", "B-LOC"]], seed=0).report.applied


def test_foreign_names_record_their_locale_and_never_fall_back():
    p = ForeignNameReplacement(locales=["ru_RU", "sw"], rate=1.0)
    toks = ["Maria", "Silva", "foi", "a", "Lisboa", "com", "Banco", "Brasil"]
    tags = ["B-PER", "I-PER", "O", "O", "B-LOC", "O", "B-ORG", "I-ORG"]
    res = p.apply_lists([toks] * 30, [tags] * 30, seed=1, lang="pt")
    rep = res.report
    assert rep.entities_replaced == Counter({"PER": 30, "LOC": 30, "ORG": 30})
    by_type = {t: Counter(r["locale"] for r in rep.records if r["type"] == t) for t in TYPES}
    assert set(by_type["PER"]) == {"ru_RU", "sw"}  # sw has person names of its own
    assert set(by_type["LOC"]) == {"ru_RU"} and set(by_type["ORG"]) == {"ru_RU"}  # sw has no places/companies
    assert any("sw" in n and "company" in n for n in rep.notes)
    assert sum(rep.locales.values()) == 90

    def cyrillic(name):
        return any("CYRILLIC" in unicodedata.name(c, "") for c in "".join(name))

    # Person and place names of ru_RU are Cyrillic; its company list also holds real Latin-script names
    # (e.g. "X5 Retail Group"), so only most of those are.
    assert all(cyrillic(r["new"]) for r in rep.records if r["locale"] == "ru_RU" and r["type"] != "ORG")
    org = [cyrillic(r["new"]) for r in rep.records if r["locale"] == "ru_RU" and r["type"] == "ORG"]
    assert sum(org) >= 0.8 * len(org)


def test_foreign_names_unavailable_locales():
    assert locale_supports("sw", "company")[0] is False
    assert locale_supports("tr_TR", "city")[0] is False  # Faker would silently give en_US cities
    assert locale_supports("ru_RU", "city")[0] is True
    assert locale_supports("xx_XX", "person") == (False, "Faker has no locale 'xx_XX'")
    p = ForeignNameReplacement(locales=["sw"], types=["ORG"])
    with pytest.warns(PerturbationWarning, match="no locale can supply names"):
        res = p.apply_lists([["Banco", "abriu"]], [["B-ORG", "O"]], seed=0)
    assert not res.report.applied and "sw" in res.report.reason
    q = ForeignNameReplacement(languages=["af", "ms"])  # no Faker locale for either
    with pytest.warns(PerturbationWarning):
        res = q.apply_lists([["Maria"]], [["B-PER"]], seed=0)
    assert not res.report.applied and "faker_locale" in res.report.reason


def test_foreign_names_leave_out_the_target_locale():
    p = ForeignNameReplacement(languages=["pt", "ru"], types=["PER"])
    res = p.apply_lists([["Maria"]] * 10, [["B-PER"]] * 10, seed=0, lang="pt")
    assert set(res.report.locales) == {"ru_RU"}
    assert any("pt_BR" in n for n in res.report.notes)


def test_foreign_names_say_why_an_unconfigured_language_has_no_names():
    """Issue 17 item 9: a language not in languages.yaml loads from files; the stage that needs metadata says so."""
    p = ForeignNameReplacement(languages=["hau", "ru"])
    assert p.locales == ["ru_RU"]
    assert any("'hau' is not in configs/languages.yaml, so it has no Faker locale" in m for m in p.problems)


def test_split_name():
    assert split_name("Smith, Jones and Brown") == ["Smith", ",", "Jones", "and", "Brown"]
    assert split_name("НПО «Большакова»") == ["НПО", "«Большакова»"]


# ------------------------------------------------------------------------------------------ context


def test_context_replacement_by_embedding_picks_nearest():
    words = ["casa", "rio", "bela", "cidade", "nova", "velha", "praia"]
    mat = np.array([[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9], [0.5, 0.5], [0.99, 0.0], [0.0, 0.99]], dtype=float)
    p = ContextReplacement({"casa", "rio"}, [t for t, _ in POOL], [g for _, g in POOL], rate=1.0, vectors=(words, mat))
    res = p.apply_lists([["Casa", "rio", "Maria"]], [["O", "O", "B-PER"]], seed=0)
    # nearest unshared candidates: casa→velha (cos 1.0), rio→praia (cos 1.0); capitalisation copied
    assert res.tokens[0] == ["Velha", "praia", "Maria"]
    assert p.params()["method"] == "embedding"


def test_context_replacement_embedding_callable_and_missing_vectors():
    vec = {"casa": [1.0, 0.0], "bela": [1.0, 0.1]}
    p = ContextReplacement({"casa", "rio"}, [t for t, _ in POOL], [g for _, g in POOL], rate=1.0, vectors=vec.get)
    res = p.apply_lists([["casa", "rio"]], [["O", "O"]], seed=0)
    assert res.tokens[0] == ["bela", "rio"]
    assert res.report.skipped["no word vector"] == 1


def test_context_replacement_frequency_band():
    target = [["aa", "aa", "aa", "bb", "cc", "cc", "cc", "cc", "dd", "shared", "shared", "shared", "1990"]]
    p = ContextReplacement({"shared", "rare"}, target, rate=1.0)
    assert p.bands == {2: ["aa", "cc"], 1: ["bb", "dd"]}  # log2(3+1)=2, log2(4+1)=2.3, log2(2)=1; no numbers
    res = p.apply_lists([["shared"] * 20], [["O"] * 20], seed=0)
    assert set(res.tokens[0]) == {"aa", "cc"}  # "shared" (3×) → band 2
    res = p.apply_lists([["rare"]], [["O"]], seed=0)  # unseen in target: band 0, widened to band 1
    assert res.tokens[0][0] in {"bb", "dd"} and res.report.ops["band_widened"] == 1


def test_context_replacement_unavailable():
    p = ContextReplacement({"casa"}, [["casa"]], rate=1.0)
    with pytest.warns(PerturbationWarning, match="no context word outside"):
        assert not p.apply_lists([["casa"]], [["O"]], seed=0).report.applied


# -------------------------------------------------------------------------------------------- noise


def test_character_operations():
    assert strip_diacritics("São Paulo ação über") == "Sao Paulo acao uber"
    assert strip_diacritics("plain") == "plain"
    assert change_case("Lisboa") == "lisboa" and change_case("rio") == "Rio"
    assert change_case("كتاب") == "كتاب"  # uncased script: no change, so the op is not applicable
    p = CharacterNoise(1.0, ops=("case",))
    res = p.apply_lists([["كتاب", "rio"]], [["O", "O"]], seed=0)
    assert res.tokens[0] == ["كتاب", "Rio"] and res.report.skipped["no operation changes the token"] == 1


def test_masking_and_deletion_never_touch_entities_or_empty_a_sentence():
    res = Masking(1.0, mode="delete").apply_lists(
        [["a", "b", "c"], ["a", "Maria"]], [["O", "O", "O"], ["O", "B-PER"]], seed=0
    )
    assert res.tokens == [["c"], ["Maria"]] and res.report.skipped["would empty the sentence"] == 1
    res = Masking(1.0, mask_token="[MASK]").apply_lists([["a", ",", "Maria"]], [["O", "O", "B-PER"]], seed=0)
    assert res.tokens[0] == ["[MASK]", ",", "Maria"]


def test_random_insertion_never_splits_an_entity():
    res = RandomTokens(["zz"], 1.0).apply_lists([["Banco", "do", "Brasil"]], [["B-ORG", "I-ORG", "I-ORG"]], seed=0)
    assert res.tokens[0] == ["zz", "Banco", "do", "Brasil", "zz"]
    assert res.tags[0] == ["O", "B-ORG", "I-ORG", "I-ORG", "O"]


def test_bad_parameters_raise():
    with pytest.raises(ValueError):
        Masking(1.5)
    with pytest.raises(ValueError):
        Masking(0.1, mask_token="two words")
    with pytest.raises(ValueError):
        CharacterNoise(0.1, ops=("typo", "shout"))
    with pytest.raises(ValueError):
        ForeignNameReplacement(locales=["ru_RU"], types=["DATE"])
    from xner.labels import LabelError

    with pytest.raises(LabelError, match="invalid IOB2"):
        Masking(0.1).apply_lists([["a"]], [["I-PER"]], seed=0)


# ----------------------------------------------------------------------------------- code-switching


def test_code_switch_uses_dictionary_and_keeps_token_count():
    res = CodeSwitch(DICT, 1.0).apply_lists(
        [["O", "rio", "grande", "de", "Maria", "xyz"]], [["O", "O", "O", "O", "B-PER", "O"]], seed=0, lang="pt"
    )
    assert res.tokens[0] == ["O", "río", "gran", "de", "Maria", "xyz"]  # "o"→"el lo" is multiword: skipped
    assert res.report.skipped["no usable translation"] == 2  # "O" (multiword) and "de" (identical)
    assert res.report.skipped["no translation"] == 1
    res = CodeSwitch(DICT, 1.0, multiword=True).apply_lists([["o", "rio"]], [["O", "O"]], seed=0, lang="pt")
    assert res.tokens[0] == ["el", "lo", "río"] and res.tags[0] == ["O", "O", "O"]


def test_code_switch_checks_the_language():
    with pytest.warns(PerturbationWarning, match="translates pt→es, but the test set is 'en'"):
        assert not CodeSwitch(DICT).apply_lists([["rio"]], [["O"]], seed=0, lang="en").report.applied


def _write_dictd(folder: Path, name: str, entries: list[str]) -> Path:
    """Write a tiny dictd database (index with base64 offsets + gzip-compressed data)."""
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def enc(n: int) -> str:
        s = ""
        while True:
            s = b64[n % 64] + s
            n //= 64
            if n == 0:
                return s

    body = b""
    index = [f"00databaseshort\t{enc(0)}\t{enc(5)}"]
    body += b"short"
    for text in entries:
        data = text.encode("utf-8")
        head = text.split("\n", 1)[0].split(" /")[0]
        index.append(f"{head}\t{enc(len(body))}\t{enc(len(data))}")
        body += data
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.dict.dz").write_bytes(gzip.compress(body))
    (folder / f"{name}.index").write_text("\n".join(index) + "\n", encoding="utf-8")
    return folder / f"{name}.index"


def test_freedict_parsing(tmp_path, monkeypatch):
    assert decode_b64_number("BBB") == 64 * 64 + 64 + 1
    idx = _write_dictd(
        tmp_path,
        "freedict-por-spa",
        [
            "casa /ˈkazɐ/ <n>\ncasa, vivienda\n(edificio)\n",
            "rio /ˈʁiu/ <n>\n1. río\n2. arroyo (pequeño)\n",
            "mamba <n>\n\n Plural of {jambo}: affair\n",
            "ano <n>\nSee also: anual\naño\n",
        ],
    )
    d = BilingualDictionary.from_freedict(idx)
    assert (d.src, d.tgt) == ("pt", "es")
    assert d.translations("Casa") == ("casa", "vivienda")
    assert d.translations("rio") == ("río", "arroyo")
    assert d.translations("ano") == ("año",)
    assert d.translations("mamba") == ()
    assert d.skipped["cross-reference line"] == 1 and d.skipped["labelled line"] == 1 and d.skipped["note line"] == 1
    monkeypatch.setenv("XNER_DICTD_DIR", str(tmp_path))
    assert installed_freedict() == [("pt", "es", idx)]
    assert find_freedict("pt", "es") == idx
    with pytest.raises(DictionaryNotFound, match="dict-freedict"):
        find_freedict("yo", "en")
    # through the registry: "freedict" finds lang → switch_to; a missing pair is recorded, not skipped
    ctx = PerturbationContext(lang="pt", source_lang="es")
    assert isinstance(build("code_switch", ctx), CodeSwitch)
    gone = build("code_switch", PerturbationContext(lang="yo", source_lang="en"), on_unavailable="record")
    assert isinstance(gone, Unavailable) and "no FreeDict dictionary yo→en" in gone.reason
    with pytest.raises(PerturbationUnavailable):
        build("code_switch", PerturbationContext(lang="yo", source_lang="en"))


def test_freedict_swahili_macrolanguage(tmp_path):
    idx = _write_dictd(tmp_path, "freedict-swh-eng", ["mamba <n>\ncrocodile\n"])
    assert BilingualDictionary.from_freedict(idx).src == "sw"


def test_parse_entry_handles_numbered_senses():
    skipped: Counter = Counter()
    assert parse_entry("Dutch /dʌtʃ/\n1. holandés\n2. neerlandés\n", skipped) == ("Dutch", ["holandés", "neerlandés"])


def test_tsv_dictionary(tmp_path):
    good = tmp_path / "d.tsv"
    good.write_text("# comment\ncasa\thogar\tcasa\nrio\trío\n\n", encoding="utf-8")
    d = BilingualDictionary.from_tsv(good, "pt", "es")
    assert d.translations("casa") == ("hogar", "casa") and len(d) == 2
    bad = tmp_path / "bad.tsv"
    bad.write_text("casa\thogar\nrio\n", encoding="utf-8")
    with pytest.raises(DictionaryError, match=r"bad\.tsv:2"):
        BilingualDictionary.from_tsv(bad, "pt", "es")


@pytest.mark.skipif(
    not Path("/usr/share/dictd/freedict-por-spa.index").is_file(), reason="dict-freedict-por-spa not installed"
)
def test_installed_debian_dictionary():
    d = BilingualDictionary.from_freedict(Path("/usr/share/dictd/freedict-por-spa.index"))
    assert len(d) > 5000 and "año" in d.translations("ano")


# ---------------------------------------------------------------------------------- composition, registry


def test_composition_reports_steps_and_refuses_when_a_step_cannot_apply():
    corpus = [(["casa", "de", "Maria", "rio"], ["O", "O", "B-PER", "O"])] * 5
    comp = Compose([Masking(0.5), CharacterNoise(0.5, target="context")])
    res = _run(comp, corpus, 0)
    assert res.report.applied and [s.perturbation for s in res.report.steps] == ["mask", "char_noise"]
    assert res.report.tokens_touched == sum(s.tokens_touched for s in res.report.steps)
    corpus = [(["casa", "de", "Kwame", "rio"], ["O", "O", "B-PER", "O"])] * 5
    bad = Compose([Masking(0.5), _unseen()])  # nothing in the corpus is "seen": step 2 cannot apply
    with pytest.warns(PerturbationWarning, match="step unseen_entities not applied"):
        res = bad.apply_lists([t for t, _ in corpus], [g for _, g in corpus], 0)
    assert not res.report.applied and res.tokens == [t for t, _ in corpus]


def _ds(pairs, lang="pt"):
    return from_lists([t for t, _ in pairs], [g for _, g in pairs], lang=lang, label_set="wikiann")


def test_every_registered_perturbation_builds_and_applies_deterministically(tmp_path, monkeypatch):
    _write_dictd(tmp_path, "freedict-por-spa", ["casa <n>\nhogar\n", "rio <n>\nrío\n", "grande <adj>\ngrande, gran\n"])
    monkeypatch.setenv("XNER_DICTD_DIR", str(tmp_path))
    test = _ds(SOURCE + [(["Ana", "ama", "casa", "grande", "no", "rio"], ["B-PER", "O", "O", "O", "O", "O"])])
    ctx = PerturbationContext(
        lang="pt", source_lang="es", source_train=_ds(SOURCE), target_train=_ds(POOL), name_languages=["ru", "fi", "hi"]
    )
    assert {
        "unseen_entities",
        "foreign_names",
        "context_replacement",
        "mask",
        "delete",
        "random_insert",
        "random_replace",
        "char_noise",
        "typos",
        "strip_diacritics",
        "case_noise",
        "code_switch",
    } <= set(available())
    for name in sorted(available()):
        p = build(name, ctx, on_unavailable="record")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerturbationWarning)
            ds1, rep1 = p.apply(test, seed=7)
            ds2, rep2 = p.apply(test, seed=7)
        assert list(ds1["tokens"]) == list(ds2["tokens"]) and rep1.to_dict() == rep2.to_dict(), name
        assert ds1.features == test.features and len(ds1) == len(test)
        for toks, langs, tags in zip(ds1["tokens"], ds1["langs"], tag_names(ds1), strict=True):
            assert len(toks) == len(langs) == len(tags) and set(langs) == {"pt"}
        assert rep1.applied or rep1.reason, name
    comp = build("mask+typos", ctx)
    assert isinstance(comp, Compose) and comp.name == "mask+typos"
    labelled = build({"name": "mask", "rate": 0.9, "label": "mask@0.9"}, ctx)
    assert labelled.name == "mask@0.9" and labelled.rate == 0.9
    with pytest.raises(KeyError, match="unknown perturbation"):
        build("shout", ctx)
    with pytest.raises(PerturbationUnavailable, match="needs source_train"):
        build("unseen_entities", PerturbationContext(lang="pt"))


def test_dataset_apply_returns_input_when_not_applied():
    test = _ds([(["Kwame", "viu"], ["B-PER", "O"])])
    with pytest.warns(PerturbationWarning):
        ds, rep = _unseen().apply(test, seed=0)
    assert ds is test and not rep.applied and rep.as_row()["applied"] is False


def test_report_row_fields():
    res = _run(FOREIGN, [(["Maria", "de", "Lisboa"], ["B-PER", "O", "B-LOC"])], 0)
    row = res.report.as_row()
    for key in (
        "sentences_touched",
        "tokens_touched",
        "entities_replaced",
        "entities_replaced_by_type",
        "locales",
        "applied",
        "reason",
    ):
        assert key in row
    assert row["entities_replaced"] == sum(res.report.entities_replaced.values())


def test_helpers():
    assert is_word("ação") and is_word("हिंदी") and not is_word("1990") and not is_word(",")
    assert replace_spans(["a", "B", "c"], ["O", "B-PER", "O"], {1: ("PER", 2, ["X", "Y"])}) == (
        ["a", "X", "Y", "c"],
        ["O", "B-PER", "I-PER", "O"],
    )
    with pytest.raises(ValueError):
        iob2_span_tags("PER", 0)


@pytest.mark.realdata
def test_real_pair_es_pt(real_data_dir):
    from xner.data import load_split

    src, tgt = load_split("es", "train").select(range(1500)), load_split("pt", "train").select(range(1500))
    test = load_split("pt", "test").select(range(200))
    ctx = PerturbationContext(lang="pt", source_lang="es", source_train=src, target_train=tgt)
    _, rep = build("unseen_entities", ctx).apply(test, seed=0)
    assert rep.applied and sum(rep.entities_replaced.values()) > 5
    _, rep = build("context_band", ctx).apply(test, seed=0)
    assert rep.applied and rep.tokens_touched > 20


# ------------------------------------------------------------------ issue 17: the same across processes

_CROSS_PROCESS = r"""
import json, sys, warnings
from xner.data import from_lists
from xner.robustness.perturb import PerturbationContext, PerturbationWarning, available, build

spec = json.load(open(sys.argv[1], encoding="utf-8"))


def ds(pairs, lang):
    return from_lists([t for t, _ in pairs], [g for _, g in pairs], lang=lang, label_set="wikiann")


ctx = PerturbationContext(
    lang="pt", source_lang="es", source_train=ds(spec["source"], "es"), target_train=ds(spec["pool"], "pt"),
    name_languages=spec["name_languages"],
)
out = {}
for name in sorted(available()):
    p = build(name, ctx, on_unavailable="record")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerturbationWarning)
        res = p.apply_lists(spec["tokens"], spec["tags"], 7, lang="pt")
    out[name] = [res.tokens, res.tags, res.report.to_dict()]
json.dump(out, open(sys.argv[2], "w", encoding="utf-8"), sort_keys=True, default=repr)
"""


def test_every_perturbation_gives_the_same_output_in_processes_with_other_hash_seeds(tmp_path):
    """Item 5: each registered perturbation, same seed, PYTHONHASHSEED 1 vs 2 → identical tokens, tags, reports.

    Faker's it_IT city list is built from a set; before its data was sorted, 3 of 70 LOC replacements differed.
    """
    import json
    import os
    import subprocess
    import sys

    _write_dictd(
        tmp_path / "dictd", "freedict-por-spa", ["casa <n>\nhogar\n", "rio <n>\nrío\n", "grande <adj>\ngran\n"]
    )
    places = ["Lisboa", "Porto", "Braga", "Faro", "Coimbra", "Évora", "Viseu"]
    test = (
        SOURCE
        + POOL
        + [
            (["Ana", "mora", "em", places[i % 7], "e", "casa"], ["B-PER", "O", "O", "B-LOC", "O", "O"])
            for i in range(70)
        ]
    )
    spec = {
        "source": SOURCE,
        "pool": POOL,
        "tokens": [t for t, _ in test],
        "tags": [g for _, g in test],
        "name_languages": ["it", "ru", "fi"],
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    (tmp_path / "run.py").write_text(_CROSS_PROCESS, encoding="utf-8")
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "XNER_DICTD_DIR": str(tmp_path / "dictd")}
        env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1] / "src"), env.get("PYTHONPATH", "")])
        out = tmp_path / f"out{seed}.json"
        subprocess.run(
            [sys.executable, str(tmp_path / "run.py"), str(tmp_path / "spec.json"), str(out)], env=env, check=True
        )
        outs.append(json.loads(out.read_text(encoding="utf-8")))
    assert set(outs[0]) == set(available())
    for name in sorted(outs[0]):
        assert outs[0][name] == outs[1][name], f"{name} differs between PYTHONHASHSEED=1 and 2"
    locales = [r["locale"] for r in outs[0]["foreign_loc"][2]["records"]]
    assert locales.count("it_IT") >= 10  # the locale whose list is built from a set is exercised
