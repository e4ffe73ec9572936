"""Shared parts of the performance benchmark (`python -m bench`) and the soak
test (`python -m bench.soak`): test corpora, the query set, child processes
measured from /proc, the search server and a keep-alive HTTP client.

Standard library only (plus the project itself): no psutil. Memory comes from
/proc/<pid>/status (VmRSS, VmHWM) and wait4()'s rusage; a process tree is
followed through /proc/<pid>/task/<tid>/children.
"""

import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ARTICLES = SHARED / "eval" / "news" / "articles.jsonl"
TO_DUMPS = SHARED / "tools" / "to_dumps.py"
DATA = ROOT / "bench-data"
QUERY_SEED = 20250213
HOST = "127.0.0.1"  # loopback only

# A query word: 3+ Japanese characters (kanji, kana, 々, ー), so that FTS5's
# trigram tokenizer can match it too.
_JA_WORD = re.compile(r"^[\u3041-\u3096\u30a1-\u30fa\u30fc\u4e00-\u9fff\u3005]{3,}$")


def compile_sources():
    """Write the package's bytecode, as a user's first run would (Python
    does not where PYTHONDONTWRITEBYTECODE is set, and each timed command
    would then compile it again: ~0.1 s of every daily reindex)."""
    import compileall

    for folder in ("search", "web"):
        compileall.compile_dir(str(ROOT / folder), quiet=1)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ corpora

def _file_key(path):
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}"


def corpus(data_dir, copies=1, limit=0, articles=None):
    """The dumps folder of the news corpus made by to_dumps.py with these
    arguments, built once and cached under data_dir/corpora/<key>/dumps.
    Returns (dumps_dir, number of items written)."""
    articles = Path(articles or ARTICLES)
    key = f"news-x{copies}" + (f"-l{limit}" if limit else "")
    home = Path(data_dir) / "corpora" / key
    stamp = {"copies": copies, "limit": limit, "articles": str(articles),
             "articles_key": _file_key(articles),
             "to_dumps_sha1": hashlib.sha1(TO_DUMPS.read_bytes()).hexdigest()}
    done = home / "corpus.json"
    if done.exists():
        try:
            saved = json.loads(done.read_text())
            if {k: saved.get(k) for k in stamp} == stamp:
                return home / "dumps", saved["items"]
        except (OSError, ValueError, KeyError):
            pass
    tmp = home.with_name(f"{key}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cmd = [sys.executable, str(TO_DUMPS), "news", str(articles), str(tmp / "dumps"),
           "--copies", str(copies)] + (["--limit", str(limit)] if limit else [])
    log(f"building corpus {key}: {' '.join(cmd[1:])}")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    items = int(out.split()[0])
    (tmp / "corpus.json").write_text(json.dumps(dict(stamp, items=items, command=cmd[1:])))
    shutil.rmtree(home, ignore_errors=True)
    os.replace(tmp, home)
    return home / "dumps", items


def parse_items(dumps_dir):
    """All items of a dumps folder, parsed with search.ingest.dumps, each id once."""
    from search.ingest.dumps import read_dump, iter_dump_files

    items, seen = [], set()
    for name, path in iter_dump_files(dumps_dir):
        for item in read_dump(path, name).items:
            if item.id not in seen:
                seen.add(item.id)
                items.append(item)
    return items


def link_tree(src, dst):
    """dst becomes a folder of hard links to src's files (copies where links
    are refused): a working copy that costs no disk space."""
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    for name in sorted(os.listdir(src)):
        try:
            os.link(os.path.join(src, name), os.path.join(dst, name))
        except OSError:
            shutil.copy2(os.path.join(src, name), os.path.join(dst, name))


def write_new_day(path, base_items, more_items, count=30):
    """Write one dump file of `count` items from more_items that base_items
    lacks (in the dump layout, via search.ingest.dumps.format_item)."""
    from search.ingest.dumps import format_item

    known = {it.id for it in base_items}
    fresh = [it for it in more_items if it.id not in known][:count]
    with open(path, "w", encoding="utf-8") as f:
        for it in fresh:
            f.write(format_item(it))
    return len(fresh)


def dir_size(path):
    """Bytes of the regular files under path."""
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


# ---------------------------------------------------------------- the queries

def draw_queries(items, n, seed=QUERY_SEED):
    """n keyword queries (lists of 1–2 words) drawn deterministically from the
    items' headlines: nouns of 3+ Japanese characters (no numerals) as Sudachi
    (mode C) segments them, two words of the same headline half the time."""
    from sudachipy import Dictionary

    tokenizer = Dictionary().tokenizer("C")
    rng = random.Random(seed)
    order = sorted(items, key=lambda it: it.id)
    rng.shuffle(order)
    queries, seen = [], set()
    for item in order:
        if len(queries) >= n:
            break
        words = []
        for m in tokenizer.tokenize(item.headline[:2000]):
            pos = m.part_of_speech()
            surface = m.surface()
            if pos[0] == "名詞" and pos[1] != "数詞" and _JA_WORD.match(surface):
                words.append(surface)
        words = list(dict.fromkeys(words))
        if not words:
            continue
        k = 2 if len(words) >= 2 and rng.random() < 0.5 else 1
        pick = rng.sample(words, k)
        key = " ".join(pick)
        if key not in seen:
            seen.add(key)
            queries.append(pick)
    return queries


def search_path(words, per_page=10, **extra):
    """/api/search for the words (extra: more parameters, e.g. group="story")."""
    return "/api/search?" + urllib.parse.urlencode({"q": " ".join(words), "per_page": per_page,
                                                    **extra})


def dig(d, *keys):
    """d[k1][k2]..., or None where a key or a dict is missing (a section that
    failed or was skipped)."""
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def percentiles(values_ms):
    """p50/p95/p99/mean/max of a list of milliseconds (nearest-rank)."""
    if not values_ms:
        return {"n": 0}
    v = sorted(values_ms)

    def rank(p):
        return v[min(len(v) - 1, max(0, int(-(-p * len(v) // 100)) - 1))]

    return {"n": len(v), "p50": round(rank(50), 2), "p95": round(rank(95), 2),
            "p99": round(rank(99), 2), "mean": round(sum(v) / len(v), 2),
            "max": round(v[-1], 2)}


# ------------------------------------------------------- processes and memory

def _status(pid):
    """{VmRSS, VmHWM, RssAnon} in kB of a live process, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            out = {}
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:")):
                    key, value = line.split(":")
                    out[key] = int(value.split()[0])
            return out
    except OSError:
        return None


def _pss(pid):
    """{Pss, Pss_Anon, Pss_File} in kB from /proc/<pid>/smaps_rollup, or {}."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("Pss", "Pss_Anon", "Pss_File"):
                    out[key] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return out


def descendants(pid):
    """pid and all its live descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return found


def tree_memory(pid, pss=False):
    """Memory of a process tree, in MB: {"rss", "anon", "hwm"} summed over its
    processes (anon: RssAnon, the private memory, without the file pages
    such as the mmapped index), "per" = {pid: VmHWM}; with pss=True also
    "pss", "pss_anon", "pss_file" (shared pages divided among their users,
    so they add up; smaps_rollup is slower to read)."""
    total = {"rss": 0, "anon": 0, "hwm": 0}
    per = {}
    sums = {"Pss": 0, "Pss_Anon": 0, "Pss_File": 0}
    for p in descendants(pid):
        st = _status(p)
        if st:
            total["rss"] += st.get("VmRSS", 0)
            total["anon"] += st.get("RssAnon", 0)
            total["hwm"] += st.get("VmHWM", 0)
            per[p] = st.get("VmHWM", 0) / 1024
            if pss:
                for key, value in _pss(p).items():
                    sums[key] += value
    out = {k: v / 1024 for k, v in total.items()}
    if pss:
        out.update(pss=sums["Pss"] / 1024, pss_anon=sums["Pss_Anon"] / 1024,
                   pss_file=sums["Pss_File"] / 1024)
    out["per"] = per
    return out


class Sampler(threading.Thread):
    """Samples a process tree's summed RSS every `interval` seconds and keeps
    the peak, and each process's last-seen VmHWM."""

    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_rss = self.peak_anon = self.peak_pss = 0.0
        self.hwm = {}
        self.processes = set()
        self.stop = threading.Event()

    def run(self):
        n = 0
        while not self.stop.is_set():
            # PSS (shared pages divided among the processes: what they take
            # together) every 4th sample: smaps_rollup is slower to read.
            mem = tree_memory(self.pid, pss=n % 4 == 0)
            n += 1
            self.peak_rss = max(self.peak_rss, mem["rss"])
            self.peak_anon = max(self.peak_anon, mem["anon"])
            self.peak_pss = max(self.peak_pss, mem.get("pss", 0.0))
            self.hwm.update(mem["per"])
            self.processes.update(mem["per"])
            self.stop.wait(self.interval)

    def finish(self):
        self.stop.set()
        self.join()
        return {"peak_rss_mb": round(self.peak_rss, 1),
                "peak_anon_mb": round(self.peak_anon, 1),
                "peak_pss_mb": round(self.peak_pss, 1),
                "largest_process_hwm_mb": round(max(self.hwm.values(), default=0.0), 1),
                "sum_hwm_mb": round(sum(self.hwm.values()), 1),
                "processes": len(self.processes)}


def run_measured(cmd, log_path=None, cwd=ROOT, env=None):
    """Run cmd to completion: wall time, CPU time (user+sys of the process and
    the children it waited for, from wait4), the summed RSS of the whole tree
    sampled every 50 ms from /proc and each process's VmHWM, exit code.
    (wait4's ru_maxrss is not used: Linux carries the forking parent's RSS
    into it across exec.)"""
    out = open(log_path, "w") if log_path else subprocess.DEVNULL
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        sampler = Sampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    finally:
        if log_path:
            out.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    memory = sampler.finish()
    result = {"seconds": round(wall, 3), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
              **memory,
              "exit": proc.returncode}
    if proc.returncode != 0:
        tail = Path(log_path).read_text(errors="replace")[-2000:] if log_path else ""
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}\n{tail}")
    return result


class Load:
    """CPU used by other processes during a stretch of the run: the machine's
    busy time (/proc/stat) less this process's and its children's, in cores."""

    def __init__(self):
        self.start = self._snap()

    @staticmethod
    def _snap():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        hz = os.sysconf("SC_CLK_TCK")
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / hz  # less idle and iowait
        t = os.times()
        ours = t.user + t.system + t.children_user + t.children_system
        return time.monotonic(), busy, ours, os.getloadavg()[0]

    def read(self, extra_ours=0.0):
        """extra_ours: CPU seconds of our processes not yet waited for."""
        now = self._snap()
        wall = now[0] - self.start[0]
        others = (now[1] - self.start[1]) - (now[2] - self.start[2]) - extra_ours
        return {"seconds": round(wall, 1), "loadavg_1min": now[3],
                "other_cores": round(max(0.0, others) / wall, 2) if wall > 0 else 0.0}


# -------------------------------------------------------------- the server

def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """`python -m search serve` as a subprocess on a free loopback port."""

    def __init__(self, index_dir, log_path, workers=None):
        self.index_dir, self.log_path, self.workers = index_dir, log_path, workers
        self.proc = None
        self.port = None

    def start(self, timeout=180):
        self.port = free_port()
        cmd = [sys.executable, "-m", "search", "serve", "--index", str(self.index_dir),
               "--host", HOST, "--port", str(self.port)]
        if self.workers:
            cmd += ["--workers", str(self.workers)]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError(f"the server exited ({self.proc.returncode}):\n"
                                   + Path(self.log_path).read_text(errors="replace")[-3000:])
            try:
                status, _ = Client(self.port, timeout=5).get("/api/stats")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not answer within {timeout} s")

    def memory(self):
        """Memory (MB) of the master and its workers, summed: VmRSS, RssAnon,
        VmHWM, and PSS (total, anonymous, file)."""
        mem = tree_memory(self.proc.pid, pss=True)
        return {"rss_mb": round(mem["rss"], 1), "anon_mb": round(mem["anon"], 1),
                "pss_mb": round(mem["pss"], 1), "pss_anon_mb": round(mem["pss_anon"], 1),
                "pss_file_mb": round(mem["pss_file"], 1),
                "sum_hwm_mb": round(mem["hwm"], 1), "processes": len(mem["per"])}

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        tree = descendants(self.proc.pid)
        self.proc.terminate()  # gunicorn stops its workers on SIGTERM
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            for pid in tree:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.wait(5)
        self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Client:
    """One keep-alive HTTP/1.1 connection to the server on loopback."""

    def __init__(self, port, timeout=30):
        self.port, self.timeout = port, timeout
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        self.reconnects = 0

    def get(self, path):
        for attempt in (0, 1):
            try:
                self.conn.request("GET", path)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                # The server closed an idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
                self.reconnects += 1
                if attempt:
                    raise

    def close(self):
        self.conn.close()


# ------------------------------------------------- what a process's memory is

# The kinds of mapping a server process's memory is made of, in the order the
# report lists them. "grows" says whether the kind grows with the index.
MAP_KINDS = (
    ("index", "index files mapped (segments, posting arrays)", "with the index"),
    ("dictionary", "Sudachi's dictionary file (.dic)", "with query variety, up to the file"),
    ("code", "Python, its libraries and modules (files)", "bounded"),
    ("other_files", "other mapped files", "bounded"),
    ("heap", "anonymous: heap and private mappings (columns, caches, Python objects)",
     "with the index (per-generation columns) and caches (bounded)"),
    ("stack", "stacks", "bounded"),
)


def _map_kind(path, index_dir):
    if not path or path.startswith("[anon") or path == "[heap]":
        return "heap"
    if path.startswith("[stack"):
        return "stack"
    if path.startswith("["):  # [vvar], [vdso], [vsyscall]
        return "code"
    if index_dir and path.startswith(index_dir):
        return "index"
    if path.endswith(".dic"):
        return "dictionary"
    if ".so" in os.path.basename(path) or "/python" in path or "site-packages" in path:
        return "code"
    return "other_files"


def smaps_breakdown(pid, index_dir=None):
    """Memory of a process tree by kind of mapping (MAP_KINDS), summed over
    its processes from /proc/<pid>/smaps: {kind: {"rss", "pss", "anon"}} in
    MB, plus "files": the largest file mappings by RSS. A file mapped
    privately and written (copy-on-write) counts its dirty pages as anon."""
    index_dir = os.path.realpath(index_dir) + os.sep if index_dir else None
    kinds = {k: {"rss": 0, "pss": 0, "anon": 0} for k, _, _ in MAP_KINDS}
    files = {}
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/smaps") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        kind = path = None
        for line in lines:
            head, _, rest = line.partition(" ")
            if "-" in head and not head.endswith(":"):
                fields = line.split(maxsplit=5)
                path = fields[5] if len(fields) > 5 else ""
                kind = _map_kind(path, index_dir)
                continue
            if kind is None or head not in ("Rss:", "Pss:", "Anonymous:"):
                continue
            kb = int(rest.split()[0])
            key = {"Rss:": "rss", "Pss:": "pss", "Anonymous:": "anon"}[head]
            kinds[kind][key] += kb
            if key == "rss" and kind not in ("heap", "stack") and kb:
                files[path] = files.get(path, 0) + kb
    out = {k: {key: round(v / 1024, 1) for key, v in d.items()} for k, d in kinds.items()}
    top = sorted(files.items(), key=lambda kv: -kv[1])[:8]
    out["files"] = [{"path": path, "rss_mb": round(kb / 1024, 1)} for path, kb in top]
    return out
