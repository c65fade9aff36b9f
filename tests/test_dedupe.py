"""Near-duplicate detection on seeded signatures: planted copies found, the earliest kept."""

import numpy as np

from index import dedupe

PINNED = [15064486041622344892, 10323556554432199163]  # signature's first slots, by the code of format 12


def _planted(n: int = 3000, seed: int = 4) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    rng = np.random.default_rng(seed)
    sigs = {f"a{i:05d}": rng.integers(0, 2**60, dedupe.NUM_PERM).astype(np.uint64) for i in range(n)}
    copies = {}
    for i in range(0, n, 97):
        copy = sigs[f"a{i:05d}"].copy()
        copy[rng.choice(dedupe.NUM_PERM, 3, replace=False)] = 1  # 61 of 64 slots equal
        copies[f"z{i:05d}"] = f"a{i:05d}"
        sigs[f"z{i:05d}"] = copy
    return sigs, copies


def test_planted_near_copies_are_found_and_the_earliest_is_kept():
    sigs, copies = _planted()
    dupes = dedupe.find_duplicates(sigs, sorted(sigs))
    assert {d: kept for d, (kept, _) in dupes.items()} == copies
    assert all(sim >= dedupe.THRESHOLD for _, sim in dupes.values())
    reverse = dedupe.find_duplicates(sigs, sorted(sigs, reverse=True))
    assert {d: kept for d, (kept, _) in reverse.items()} == {v: k for k, v in copies.items()}


def test_with_fresh_ids_only_their_buckets_are_compared():
    sigs, copies = _planted()
    one = next(iter(copies))
    assert dedupe.find_duplicates(sigs, sorted(sigs), fresh={one}) == {one: (copies[one], 61 / 64)}
    assert dedupe.find_duplicates(sigs, sorted(sigs), fresh=set()) == {}


def test_copies_among_unrelated_articles_sharing_their_band_go_to_the_earliest_copy(monkeypatch):
    """Big buckets of mixed members (a story's copies and unrelated articles with one equal band),
    their pairs compared a few at a time: each copy is a duplicate of the first, nothing else is."""
    monkeypatch.setattr(dedupe, "PAIRS_AT_ONCE", 7)
    rng = np.random.default_rng(11)
    story = rng.integers(0, 2**60, dedupe.NUM_PERM).astype(np.uint64)
    rows = dedupe.NUM_PERM // dedupe.BANDS
    sigs, order = {}, []
    for i in range(40):
        other = rng.integers(0, 2**60, dedupe.NUM_PERM).astype(np.uint64)
        other[:rows] = story[:rows]  # the story's first band: same bucket, 4 of 64 slots equal
        copy = story.copy()
        copy[rng.choice(np.arange(rows, dedupe.NUM_PERM), 2, replace=False)] = i + 1  # 62 of 64 equal
        sigs[f"u{i:02d}"], sigs[f"c{i:02d}"] = other, copy
        order += [f"u{i:02d}", f"c{i:02d}"]
    dupes = dedupe.find_duplicates(sigs, order)
    assert set(dupes) == {f"c{i:02d}" for i in range(1, 40)}
    for dup, (kept, sim) in dupes.items():
        assert kept == "c00" and sim == dedupe.similarity(sigs[dup], sigs["c00"]) >= dedupe.THRESHOLD


def test_only_buckets_with_a_close_pair_are_looked_at_in_order(monkeypatch):
    monkeypatch.setattr(dedupe, "PAIRS_AT_ONCE", 4)  # the 45 pairs of ten members in 12 operations
    rng = np.random.default_rng(3)
    matrix = rng.integers(0, 2**60, (10, dedupe.NUM_PERM)).astype(np.uint64)
    matrix[9] = matrix[8]
    matrix[9, :3] = 0  # 61 of 64 slots equal: the only close pair, the last of the big bucket's
    buckets = [[0, 1], list(range(10)), [2, 3, 4], [8, 9], list(range(8)), [7, 8]]
    assert dedupe._close_enough(matrix, buckets, dedupe.THRESHOLD) == [list(range(10)), [8, 9]]


def test_signature_of_a_text_is_stable_across_versions():
    """Signatures are stored in the index: the same text must give the same one in every version
    (they changed with index formats 5, 10 and 12, which rebuild every index)."""
    sig = dedupe.signature("LONDON, March 3. The harbour bridge opened today after years of work on it.")
    assert sig[:4].tolist() == STABLE_PREFIX


STABLE_PREFIX = [293574824965577290, 1235276253670431910, 2914161359524672812, 3192043192041071428]  # format 12


def test_fresh_articles_streamed_against_the_index_give_what_the_full_comparison_gives():
    sigs, copies = _planted()
    rng = np.random.default_rng(11)
    fresh = {f"z{i:05d}" for i in range(0, 3000, 97 * 3)}  # some planted copies...
    for i in range(5):  # ...new stories, and two copies of one new story
        sigs[f"new{i}"] = rng.integers(0, 2**60, dedupe.NUM_PERM).astype(np.uint64)
        fresh.add(f"new{i}")
    sigs["new5"] = sigs["new0"].copy()
    sigs["new5"][:2] = 7
    fresh.add("new5")
    indexed = [(a, sigs[a].tobytes()) for a in sorted(sigs) if a not in fresh and a not in copies]
    expected = dedupe.find_duplicates({a: sigs[a] for a in [*dict(indexed), *fresh]},
                                      [a for a, _ in indexed] + sorted(fresh), fresh=fresh)
    got = dedupe.duplicates_of_fresh({a: sigs[a] for a in fresh}, indexed, chunk=500)
    assert got == expected and got["new5"] == ("new0", 62 / 64) and len(got) == len(fresh) - 5


def test_signatures_of_many_texts_at_once_equal_one_at_a_time(monkeypatch):
    texts = ["", "😀 only symbols", "one", "four words in all", "It's O’Brien’s car's door.",
             *(f"Story {i}: the harbour bridge opened today after years of work, said the mayor of town {i % 7}."
               for i in range(40)), "word " * 5_000]
    monkeypatch.setattr(dedupe, "SIGN_SHINGLES", 300)  # groups of texts, and the long one in slices
    together = dedupe.signatures(texts)
    assert together.shape == (len(texts), dedupe.NUM_PERM) and together.dtype == np.uint64
    for text, sig in zip(texts, together):
        assert np.array_equal(sig, dedupe.signature(text))
    # The values stored in indexes of this format compare with new ones.
    assert dedupe.signature("The harbour bridge opened today.")[:2].tolist() == PINNED


def test_a_word_hashes_the_same_wherever_it_stands_and_however_the_text_is_sliced(monkeypatch):
    """Words are runs of word characters, case folded; a word's hash depends on its characters only,
    also when the text is hashed a slice at a time (long texts) or a word is longer than a slice."""
    import re

    text = ("The Mayor's office — O’Brien said: «Мэр Москвы» 19.10.2015, naïve co-op_2 İstanbul 😀x " * 40
            + "a" * 150 + " end")
    words = re.findall(r"\w+", text.lower().replace("i̇", "i"))
    alone = np.array([dedupe.word_hashes(w)[0][0] for w in words], dtype=np.uint64)
    hashes, starts = dedupe.word_hashes(text)
    assert np.array_equal(hashes, alone)
    assert [text[s : s + 5] for s in starts[:4].tolist()] == ["The M", "Mayor", "s off", "offic"]
    monkeypatch.setattr(dedupe, "HASH_CHARS", 64)  # slices of 64 characters; the 150-letter word is cut
    dedupe._tables.cache_clear()
    try:
        sliced, _ = dedupe.word_hashes(text)
        cut = [i for i, w in enumerate(words) if len(w) > 64]
        keep = np.ones(len(words), dtype=bool)
        keep[cut] = False
        assert np.array_equal(sliced[keep], hashes[keep]) and len(cut) == 1 and sliced[cut[0]] != hashes[cut[0]]
        assert np.array_equal(dedupe.signatures([text, "one two", text[:500]]),
                              [dedupe.signature(text), dedupe.signature("one two"), dedupe.signature(text[:500])])
    finally:
        dedupe._tables.cache_clear()


def test_share_of_equal_slots_estimates_the_jaccard_similarity_of_shingles():
    """Edited copies of a story, from a few words changed to most: the estimate follows the truth
    (each slot an independent sample: short texts too, whose shingles are few)."""
    rng = np.random.default_rng(5)
    vocab = [f"w{i}" for i in range(3000)]
    errors = []
    for n_words in (30, 120, 600):  # short texts leave most slots empty
        for share in (0.01, 0.03, 0.1, 0.3):
            for _ in range(12):
                words = list(rng.choice(vocab, n_words))
                edited = [f"x{rng.integers(1 << 30)}" if rng.random() < share else w for w in words]

                def shingles(ws: list[str]) -> set[tuple[str, ...]]:
                    return {tuple(ws[i : i + dedupe.SHINGLE]) for i in range(len(ws) - dedupe.SHINGLE + 1)}

                truth = len(shingles(words) & shingles(edited)) / len(shingles(words) | shingles(edited))
                a, b = dedupe.signatures([" ".join(words), " ".join(edited)])
                errors.append(dedupe.similarity(a, b) - truth)
    assert abs(np.mean(errors)) < 0.02 and np.std(errors) < 0.07
