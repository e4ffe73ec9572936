"""A server worker's memory stays what its work needs: every
HOUSEKEEPING_REQUESTS requests it drops the dictionary pages its tokenizing
mapped and trims the C heap, in a thread of its own, answering meanwhile."""

import http.client
import os
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from web.server import HOUSEKEEPING_REQUESTS, Housekeeper

from helpers import NEWS_DUMPS
from servers import gunicorn_process

needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux /proc")


def test_housekeeper_releases_after_every_nth_request_in_its_own_thread():
    threads, released = [], threading.Event()

    def release():
        threads.append(threading.current_thread().name)
        released.set()

    keeper = Housekeeper(every=3, release=release).start()
    for _ in range(2):
        keeper.request_done()
    assert not released.wait(0.2)  # two requests: not yet
    keeper.request_done()
    assert released.wait(5)
    assert threads == ["housekeeper"]  # not the request's thread


def test_a_failing_release_is_logged_and_the_housekeeper_goes_on():
    calls, logged, again = [], [], threading.Event()

    class Log:
        def exception(self, message):
            logged.append(message)

    def release():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("madvise refused")
        again.set()

    keeper = Housekeeper(every=1, release=release, log=Log()).start()
    keeper.request_done()
    deadline = time.monotonic() + 5
    while not logged and time.monotonic() < deadline:
        time.sleep(0.01)
    keeper.request_done()
    assert again.wait(5) and logged == ["memory housekeeping failed"]


def _workers(master):
    """The pids whose parent is master (gunicorn's workers)."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except (OSError, ValueError):
            continue
        if entry.isdigit() and int(stat.rsplit(")", 1)[1].split()[1]) == master:
            pids.append(int(entry))
    return pids


def _both_workers(master, timeout=10):
    """The master's two workers: the server answers once the first is up,
    and the second may still be forking (seen once, on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while len(workers := _workers(master)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return workers


def _dictionary_rss_kb(pid):
    """Resident kB of pid's mappings of Sudachi's dictionary files."""
    total, in_dictionary = 0, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5:  # a mapping's first line
                in_dictionary = head[-1].endswith(".dic")
            elif in_dictionary and line.startswith("Rss:"):
                total += int(head[1])
    return total


def _queries():
    """Distinct phrases of the sample articles: each tokenizes other words."""
    text = "".join(Path(p).read_text(encoding="utf-8") for p in NEWS_DUMPS)
    phrases = [line[i:i + 24] for line in text.splitlines() if "http" not in line
               for i in range(0, len(line) - 12, 24)]
    return list(dict.fromkeys(phrases))


@needs_proc
def test_a_worker_drops_its_dictionary_pages_as_it_serves(tmp_path, make_index):
    index_dir = make_index(NEWS_DUMPS, into=tmp_path)
    queries = _queries()
    assert len(queries) > 3 * HOUSEKEEPING_REQUESTS
    with gunicorn_process(index_dir) as (port, master):
        workers = _both_workers(master)
        assert len(workers) == 2
        peak = dict.fromkeys(workers, 0)
        dropped = set()
        # Both workers together past two rounds: each one has reached its
        # round's request at least once.
        for q in queries[:3 * HOUSEKEEPING_REQUESTS]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", f"/api/search?q={quote(q)}&per_page=3")
            assert conn.getresponse().status == 200
            conn.close()
            for pid in workers:
                rss = _dictionary_rss_kb(pid)
                if rss < peak[pid] / 2:
                    dropped.add(pid)
                peak[pid] = max(peak[pid], rss)
        assert max(peak.values()) > 10 * 1024  # tokenizing had mapped >10 MB of the dictionary
        assert dropped, f"no worker released its dictionary pages (peak kB {peak})"
        # And it still tokenizes: a word of the articles is found after the release.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/search?q=" + quote("ペスコフ"))
        response = conn.getresponse()
        assert response.status == 200 and b'"total":0' not in response.read().replace(b" ", b"")
