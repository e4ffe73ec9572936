"""Whoosh's private internals are reached through one module,
search/index/whoosh_internals.py: every private attribute it lists exists on
the installed Whoosh (an upgrade fails here, loudly, not in a reindex), it
refuses another Whoosh version, and no other module of the package uses a
private name of Whoosh's that the list does not name."""

import ast
import importlib
import inspect
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import whoosh
from whoosh import columns, fields
from whoosh.codec.whoosh3 import W3Codec, W3TermInfo
from whoosh.filedb.filestore import RamStorage

from search.index import whoosh_internals as internals

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "search"
PRIVATE = re.compile(r"_[a-z]\w*$")


def _resolve(owner):
    module, _, path = owner.partition(":")
    obj = importlib.import_module(module)
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


@pytest.fixture(scope="module")
def samples():
    """An instance of every class the list names, in the state in which we
    use it (a writer that has added a document, a field writer inside a
    field, a postings writer inside a term, a matcher on a posting block)."""
    schema = fields.Schema(id=fields.ID(stored=True), text=fields.TEXT(stored=True),
                           n=fields.NUMERIC(sortable=True))
    storage = RamStorage()
    ix = storage.create_index(schema)
    w = ix.writer()
    for i in range(300):
        w.add_document(id=str(i), text=f"common word{i}", n=i)
    w.commit()
    searcher = ix.searcher()
    reader = searcher.reader()
    segment = reader.segment()
    codec = W3Codec()
    writer = ix.writer()
    writer.add_document(id="x", text="common")
    fieldwriter = writer.fieldwriter
    fieldwriter.start_field("text", schema["text"])
    fieldwriter.start_term(b"common")
    postings = codec.postings_writer(RamStorage().create_file("postings"))
    postings.start_postings(schema["text"].format, W3TermInfo())
    files = RamStorage()
    out = {
        "whoosh.writing:SegmentWriter": writer,
        "whoosh.codec.whoosh3:W3FieldWriter": fieldwriter,
        "whoosh.codec.whoosh3:W3Codec": codec,
        "whoosh.codec.whoosh3:W3TermInfo": W3TermInfo(),
        "whoosh.codec.whoosh3:W3PerDocWriter": writer.perdocwriter,
        "whoosh.columns:WrappedColumnWriter":
            columns.PickleColumn(columns.VarBytesColumn()).writer(files.create_file("a")),
        "whoosh.columns:VarBytesColumn.Writer": columns.VarBytesColumn().writer(files.create_file("b")),
        "whoosh.codec.whoosh3:W3PerDocReader": codec.per_document_reader(storage, segment),
        "whoosh.reading:SegmentReader": reader,
        "whoosh.codec.whoosh3:W3TermsReader": reader._terms,
        "whoosh.searching:Searcher": searcher,
        "whoosh.index:FileIndex": ix,
        "whoosh.codec.whoosh3:W3PostingsWriter": postings,
        "whoosh.codec.whoosh3:W3LeafMatcher": reader.postings("text", "common"),
    }
    yield out
    writer.cancel()
    searcher.close()


def test_the_list_names_owners_that_exist(samples):
    owners = {owner for owner, _, _ in internals.PRIVATE_ATTRIBUTES
              if isinstance(_resolve(owner), type)}
    assert owners <= set(samples), "add a sample instance for each owner"
    for owner in owners:
        assert isinstance(samples[owner], _resolve(owner)), owner


@pytest.mark.parametrize("owner,attribute,user", internals.PRIVATE_ATTRIBUTES,
                         ids=[f"{o.split(':')[1]}.{a}" for o, a, _ in internals.PRIVATE_ATTRIBUTES])
def test_every_private_attribute_relied_on_exists(samples, owner, attribute, user):
    found = _resolve(owner)
    if isinstance(found, type):
        exists = hasattr(found, attribute) or hasattr(samples[owner], attribute)
    else:  # a function's parameter
        exists = attribute in inspect.signature(found).parameters
    assert exists, (
        f"Whoosh {whoosh.versionstring()} has no {owner}.{attribute}, which {user} relies on")


def test_every_user_named_in_the_list_exists():
    for _, _, users in internals.PRIVATE_ATTRIBUTES:
        for user in users.split(", "):
            if "." in user:  # one of our classes that subclasses Whoosh's
                module, _, name = user.rpartition(".")
                assert hasattr(importlib.import_module(module), name), user
            else:
                assert callable(getattr(internals, user)), user


def test_reader_caches_do_not_clash_with_whooshs_names(samples):
    for owner in ("whoosh.reading:SegmentReader", "whoosh.searching:Searcher"):
        assert not hasattr(samples[owner], internals.READER_CACHE)


VERSION_SCRIPT = """
import whoosh
whoosh.__version__ = (2, 7, 5)
try:
    import search.index.whoosh_internals
except ImportError as e:
    print(e)
else:
    print("imported")
"""


def test_another_whoosh_version_is_refused():
    out = subprocess.run([sys.executable, "-c", VERSION_SCRIPT], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "Whoosh 2.7.5 is installed" in out and "pip install whoosh==2.7.4" in out, out


def _whoosh_private_names():
    """Every private name Whoosh defines: functions and methods, their
    parameters, attributes it assigns, class attributes."""
    names = set()
    for path in Path(whoosh.__file__).parent.rglob("*.py"):
        with warnings.catch_warnings():  # Whoosh's old escape sequences
            warnings.simplefilter("ignore")
            tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            if isinstance(node, ast.FunctionDef):
                names |= {a.arg for a in node.args.args + node.args.kwonlyargs}
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return {name for name in names if PRIVATE.match(name)}


def _whoosh_bound(tree):
    """Names a module binds to Whoosh's modules or classes by importing them."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "whoosh":
            bound |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            bound |= {a.asname or a.name.split(".")[0] for a in node.names
                      if a.name.split(".")[0] == "whoosh"}
    return bound


def _root_name(node):
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _private_uses(tree):
    """(class or None, name) of every private attribute the module reads or
    writes, as an attribute or through getattr/setattr/hasattr or __dict__,
    and of every private keyword argument it passes."""
    uses = []

    def visit(node, cls):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.ClassDef) else cls
            if isinstance(child, ast.Attribute) and (PRIVATE.match(child.attr) or
                                                     child.attr == "__dict__"):
                uses.append((inner, child.attr))
            elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Name)
                  and child.func.id in ("getattr", "setattr", "hasattr", "delattr")
                  and len(child.args) > 1 and isinstance(child.args[1], ast.Constant)
                  and PRIVATE.match(str(child.args[1].value))):
                uses.append((inner, child.args[1].value))
            if isinstance(child, ast.Call):
                uses.extend((inner, k.arg) for k in child.keywords if k.arg and PRIVATE.match(k.arg))
            visit(child, inner)

    visit(tree, None)
    return uses


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "whoosh_internals.py":
            yield ".".join(path.relative_to(ROOT).with_suffix("").parts), ast.parse(
                path.read_text(encoding="utf-8"))


def test_no_other_module_uses_an_unlisted_private_name_of_whooshs():
    """Outside whoosh_internals, a private name Whoosh defines may be used
    only inside one of our classes that subclasses Whoosh's, and only if the
    list names it for that class. Our own private names are ours: a module
    may use what it defines in its own classes and functions."""
    whoosh_names = _whoosh_private_names()
    listed = {(user, attribute) for _, attribute, users in internals.PRIVATE_ATTRIBUTES
              for user in users.split(", ")}
    problems = []
    for module, tree in _modules():
        bound = _whoosh_bound(tree)
        classes = {c.name: c for c in ast.walk(tree) if isinstance(c, ast.ClassDef)}
        subclasses = set()
        changed = True
        while changed:  # classes that derive from Whoosh's, directly or not
            changed = False
            for name, c in classes.items():
                if name not in subclasses and any(
                        _root_name(b) in bound or _root_name(b) in subclasses for b in c.bases):
                    subclasses.add(name)
                    changed = True
        own = set()  # private names defined by our classes and functions
        for c in ast.walk(tree):
            if isinstance(c, ast.ClassDef) and c.name in subclasses:
                continue
            for node in ast.iter_child_nodes(c) if isinstance(c, (ast.ClassDef, ast.Module)) else ():
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    own.add(node.name)
            if isinstance(c, ast.ClassDef):
                for node in ast.walk(c):
                    if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                        own.add(node.attr)
        for cls, name in _private_uses(tree):
            if name == "__dict__":
                problems.append(f"{module}: {cls or 'a function'} reads a __dict__")
            elif cls in subclasses:
                if name in whoosh_names and (f"{module}.{cls}", name) not in listed:
                    problems.append(f"{module}.{cls} uses Whoosh's {name}, not listed")
            elif name in whoosh_names and name not in own:
                problems.append(f"{module}: {cls or 'a function'} uses Whoosh's {name}")
    assert not problems, "\n".join(problems)


def test_no_module_imports_anothers_private_names():
    problems = [f"{module} imports {alias.name} from {node.module}"
                for module, tree in _modules() for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom)
                for alias in node.names if PRIVATE.match(alias.name)]
    assert not problems, "\n".join(problems)


def test_pinned_column_files_stay_readable_after_a_commit_deletes_them(tmp_path):
    """pin_column_files opens a segment's column files at once; a later
    commit that merges the segment away deletes them, and the pinned reader
    still reads its columns and says they exist."""
    from whoosh import writing

    from search.index import storage

    ix = storage.PreadStorage(str(tmp_path)).create_index(fields.Schema(
        id=fields.ID(stored=True), n=fields.NUMERIC(sortable=True)))
    with ix.writer() as w:
        for i in range(5):
            w.add_document(id=str(i), n=i)
    searcher = ix.searcher()
    reader = searcher.reader()
    internals.pin_column_files(reader)
    internals.pin_column_files(reader)  # twice: the same
    segment_files = {name for name in ix.storage.list() if name.endswith(".col")}
    w = ix.writer()
    w.add_document(id="new", n=9)
    w.commit(mergetype=writing.CLEAR)
    assert not segment_files & set(ix.storage.list())  # deleted
    assert reader.has_column("n") and list(reader.column_reader("n")) == [0, 1, 2, 3, 4]
    assert [reader.stored_fields(d)["id"] for d in range(5)] == ["0", "1", "2", "3", "4"]
    assert not reader.has_column("id")
    searcher.close()


def test_reader_cache_is_one_dict_per_reader(samples):
    reader = samples["whoosh.reading:SegmentReader"]
    assert internals.reader_cache(reader) is internals.reader_cache(reader)
    assert internals.reader_cache(samples["whoosh.searching:Searcher"]) is not \
        internals.reader_cache(reader)
