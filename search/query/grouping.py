"""group=story: each story once in a result, by its best hit (as a news
aggregator shows one event), with the story's other matching items."""

import numpy as np

MAX_STORY_ITEMS = 50  # the other matching items listed with a story's best hit


def collapse(ordered, stories, k):
    """ordered: the selection's (docnum, score) pairs in rank order. Returns
    (how many stories, the first k stories' best (docnum, score), for each
    of those the other matching items' document numbers in rank order)."""
    if not ordered:
        return 0, [], []
    docnums = np.array([d for d, _ in ordered], dtype=np.int64)
    keys = stories.codes[docnums]
    keys = np.where(keys >= 0, keys, -1 - docnums)  # an item the table does not know: its own
    _, first = np.unique(keys, return_index=True)
    first.sort()
    best = first[:k]
    others = []
    for position in best:
        same = np.flatnonzero(keys == keys[position])
        others.append([int(docnums[p]) for p in same if p != position][:MAX_STORY_ITEMS])
    return len(first), [ordered[p] for p in best], others
