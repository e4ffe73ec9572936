"""group=story: each story once in a result, by its best hit (as a news
aggregator shows one event), with the story's other matching items."""

import numpy as np

MAX_STORY_ITEMS = 50  # the other matching items listed with a story's best hit


def collapse(docnums, scores, stories, start, count):
    """docnums, scores: the selection in rank order. Returns (how many
    stories, the (docnum, score) of the best hit of the stories start to
    start + count, for each of those the other matching items' document
    numbers in rank order)."""
    if not len(docnums):
        return 0, [], []
    keys = stories.codes[docnums]
    keys = np.where(keys >= 0, keys, -1 - docnums)  # an item the table does not know: its own
    _, first = np.unique(keys, return_index=True)
    first.sort()
    best = first[start:start + count]
    others = []
    for position in best:
        same = np.flatnonzero(keys == keys[position])
        others.append([int(docnums[p]) for p in same if p != position][:MAX_STORY_ITEMS])
    return len(first), [(int(docnums[p]), float(scores[p])) for p in best], others
