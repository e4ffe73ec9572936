"""Our codec against Whoosh's own test suite: run with ArrayBlockCodec as
Whoosh's default codec, the suite fails no test that it passes with Whoosh's
W3 codec (the reference: the suite is Whoosh master's, so some of its tests
fail on 2.7.4 whatever the codec). A feature the codec refused would have to
fail with the codec's error naming it; it refuses none (term vectors
included, every feature the suite tests is supported).

The suite and its runner are read-only peers' material beside the
repository (../shared/peers, see its README); without them this is skipped.
"""

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT.parent / "shared" / "peers"
RUNNER = PEERS / "run-whoosh-tests"
CODEC = "search.index.codec:ArrayBlockCodec"
W3 = ""  # the runner's default: Whoosh's W3 codec
# {test id: the text of the error it must fail with}, for features of Whoosh
# the codec refuses rather than answering wrongly. None are refused.
REFUSED = {}


def _run(codec, xml, *pytest_args):
    """{test id: None if passed or skipped, else its failure message}."""
    env = dict(os.environ, PYTHON=sys.executable,
               PYTHONHASHSEED="0")  # some of Whoosh's tests depend on set order
    subprocess.run([str(RUNNER), codec, "-p", "no:cacheprovider", f"--junitxml={xml}",
                    *pytest_args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=900)
    outcomes = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        failed = case.find("failure")
        if failed is None:
            failed = case.find("error")
        test = f"{case.get('classname')}::{case.get('name')}"
        outcomes[test] = None if failed is None else (
            f"{failed.get('message', '')}\n{failed.text or ''}")
    return outcomes


def _failed(outcomes):
    return {test for test, message in outcomes.items() if message is not None}


def test_our_codec_fails_no_test_of_whooshs_suite_that_w3_passes(tmp_path):
    for needed in (PEERS, RUNNER):
        if not needed.exists():
            pytest.skip(f"Whoosh's test suite is not here: {needed} is missing")
    start = time.monotonic()
    w3 = _run(W3, tmp_path / "w3.xml")
    ours = _run(CODEC, tmp_path / "ours.xml")
    assert len(w3) > 500 and w3.keys() == ours.keys(), "the two runs did not run the same suite"
    assert len(_failed(w3)) < 50, "the reference run failed wholesale: is the runner broken?"
    worse = _failed(ours) - _failed(w3) - set(REFUSED)
    if worse:  # once more, those alone, in case one depends on timing
        names = " or ".join(sorted({t.rsplit("::", 1)[1] for t in worse}))
        again_w3 = _run(W3, tmp_path / "w3-again.xml", "-k", names)
        again = _run(CODEC, tmp_path / "ours-again.xml", "-k", names)
        worse = {t for t in worse if again.get(t) is not None and again_w3.get(t) is None}
    print(f"\nWhoosh's suite: W3 {len(w3) - len(_failed(w3))} passed, {len(_failed(w3))} failed; "
          f"{CODEC} {len(ours) - len(_failed(ours))} passed, {len(_failed(ours))} failed; "
          f"{time.monotonic() - start:.0f} s")
    assert not worse, "fail with our codec, pass with W3:\n" + "\n".join(
        f"{t}: {(ours[t] or '').strip().splitlines()[:1]}" for t in sorted(worse))
    for test, error in REFUSED.items():
        assert ours.get(test) is not None and error in ours[test], (
            f"{test} should fail with the codec's refusal ({error!r}): {ours.get(test)!r}")
