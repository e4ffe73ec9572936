"""Every curl example in README.md and docs/api.md, run exactly as printed
(the real curl, which sends Japanese as raw UTF-8) against the real server on
the index `make run` builds: the sample dumps in dumps/. Where the docs print
the answer (a `$ curl …` line followed by its output), the answer is
compared too."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from test_everyday import server  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "docs" / "api.md"]
PRINTED_HOST = "http://127.0.0.1:8000"
CURL = shutil.which("curl")

pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed (make test-deps installs it)")


def examples(path):
    """(command, printed output or None) of each curl example in path's sh
    blocks, continuation lines joined."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
        lines, i = block.replace("\\\n", " ").splitlines(), 0
        while i < len(lines):
            line = lines[i].strip()
            i += 1
            prompt = line.startswith("$ ")
            command = line[2:] if prompt else line
            if not command.startswith("curl "):
                continue
            output = None
            if prompt:
                printed = []
                while i < len(lines) and not lines[i].startswith("$ "):
                    printed.append(lines[i])
                    i += 1
                output = "\n".join(printed).strip()
            found.append((command, output))
    return found


EXAMPLES = [(path.name, command, output) for path in DOCS for command, output in examples(path)]


def test_the_docs_have_examples():
    assert len([e for e in EXAMPLES if e[0] == "README.md"]) >= 3
    assert len([e for e in EXAMPLES if e[0] == "api.md"]) >= 8


@pytest.mark.parametrize("doc, command, output", EXAMPLES,
                         ids=[f"{d}:{c[:60]}" for d, c, _ in EXAMPLES])
def test_example_runs_as_printed(server, doc, command, output):  # noqa: F811
    command = command.replace(PRINTED_HOST, f"http://127.0.0.1:{server}")
    # -w: the status after the body, to check it; the command is otherwise as printed.
    run = subprocess.run(f"{command} -w '\\n%{{http_code}}'", shell=True, capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    body, _, status = run.stdout.rpartition("\n")
    if "-i" in command.split()[1:3] or "-si" in command:
        head, _, body = body.partition("\n\n")
        if output is not None:
            assert head.splitlines()[0].strip() == output.splitlines()[0].strip()
            output = output.partition("\n\n")[2]
    answer = json.loads(body)
    if output is None:
        assert status == "200", body
        assert "error" not in answer
        if "/api/search" in command:
            assert answer["total"] > 0, f"{command} finds nothing on the sample dumps"
    else:
        assert answer == json.loads(output)
