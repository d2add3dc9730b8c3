"""The documentation cannot drift from the program: every shell, Python and
JSON block of the README and docs/ runs (a page's blocks in order, in one
shell, in a scratch directory that links to the repository), the reference
lists exactly the options, exit statuses, input keys, deck keywords,
datasets, attributes and phases that the program has, links resolve, the
README stays short, and the report package installs the ordinary way."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from conftest import MINIAPP, REPO, environment_of, launch

PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```([a-z]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
RUNNABLE = ("sh", "python", "json")
# The test suite itself, which CI runs (.ci/run: scripts/test, then swift test and pytest): running it from
# here would run this test again. Its lines are checked, not run.
SUITE = re.compile(r"^\s*(scripts/test|scripts/swift test|swift test)\b.*$", re.M)


def blocks(page):
    """(language, text, text before it) of every fenced block of a page."""
    text = page.read_text()
    return [(m.group(1), m.group(2), text[:m.start()]) for m in FENCE.finditer(text)]


def runnable_pages():
    return [p for p in PAGES if any(lang in RUNNABLE for lang, _, _ in blocks(p))]


def name(page):
    return str(page.relative_to(REPO))


def input_run(path, stem):
    """The command that runs a JSON input of the docs: briefly, whatever its problem."""
    document = json.loads(Path(path).read_text())
    steps = [] if document.get("problem") == "integrate" else ["--steps", "2"]
    return f"./miniapp launch -n 2 --quiet --force --output {stem}.h5 {' '.join(steps)} {path}"


def script_of(page, directory):
    """The page's runnable blocks as one bash script, each announced by a marker line."""
    lines = ["set -euo pipefail"]
    for k, (lang, text, before) in enumerate(blocks(page)):
        if lang not in RUNNABLE:
            continue
        marker = f"echo '=== block {k} ({lang}) of {name(page)}'"
        if lang == "sh":
            for suite in SUITE.finditer(text):   # a suite that exists, filtered to tests that exist
                words = suite.group(0).split("#")[0].split()
                if "--filter" in words:
                    wanted = words[words.index("--filter") + 1]
                    assert any(wanted in p.read_text() for p in (REPO / "Tests").rglob("*.swift")), wanted
            lines += [marker, SUITE.sub(": the test suite is what CI runs", text)]
        elif lang == "python":
            (directory / f"block{k}.py").write_text(text)
            lines += [marker, f"/usr/bin/python3 block{k}.py"]
        else:
            document = json.loads(text)
            if "problem" not in document:
                continue
            shown = re.findall(r"`(inputs/[\w.-]+\.json)`", before.rstrip().rsplit("\n\n", 1)[-1])
            if shown:   # a shipped input shown as it is
                assert document == json.loads((REPO / shown[-1]).read_text()), f"{name(page)}: {shown[-1]} differs"
            (directory / f"block{k}.json").write_text(text)
            lines += [marker, input_run(directory / f"block{k}.json", f"block{k}").replace(str(directory) + "/", "")]
    return "\n".join(lines) + "\n"


def scratch(tmp_path):
    """A working directory that looks like the repository's root to the commands."""
    work = tmp_path / "work"
    work.mkdir()
    for entry in REPO.iterdir():
        # Not the build folders: a build from here would write the repository's with this folder's paths.
        if entry.name in (".git", "runs") or entry.name.startswith(".build") or entry.suffix in (".h5", ".xmf"):
            continue
        (work / entry.name).symlink_to(entry)
    return work


def new_test_beds(before):
    return [d for d in Path("/tmp").glob("miniapp-cluster.*") if d not in before] + \
        [d for d in Path("/tmp").glob("miniapp-slurm.*") if d not in before]


@pytest.mark.parametrize("page", runnable_pages(), ids=name)
def test_every_block_of_the_page_runs(page, tmp_path):
    """A page's commands, Python and inputs, in order, as a reader would run them."""
    work = scratch(tmp_path)
    script = script_of(page, work)
    needs_root = re.search(r"sbatch|slurm-start|cluster-start", script)
    if needs_root and os.geteuid() != 0:
        pytest.skip(f"{name(page)} runs Slurm or a test bed of hosts, which need root (CI runs as root)")
    before = set(Path("/tmp").glob("miniapp-cluster.*")) | set(Path("/tmp").glob("miniapp-slurm.*"))
    env = dict(os.environ)
    slurm = None
    # A page that submits jobs without starting a Slurm of its own gets one, as on a cluster.
    if re.search(r"\bsbatch\b", script) and "slurm-start" not in script:
        started = subprocess.run([str(REPO / "Tests/TestBed/slurm-start")], capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stderr
        slurm = started.stdout.strip().splitlines()[-1]
        env = environment_of(f"{slurm}/env")
    (work / "page.sh").write_text(script)
    try:
        result = subprocess.run(["bash", "page.sh"], capture_output=True, text=True, cwd=work, env=env, timeout=1200)
        if slurm:   # the jobs it submitted finish before their Slurm stops
            deadline = time.monotonic() + 300
            while subprocess.run(["squeue", "-h"], capture_output=True, text=True, env=env).stdout.strip():
                assert time.monotonic() < deadline, "the page's jobs did not finish"
                time.sleep(1)
    finally:
        if slurm:
            subprocess.run([str(REPO / "Tests/TestBed/slurm-stop"), slurm], timeout=60)
        left = new_test_beds(before)
        for directory in left:   # the page should stop what it starts: a failure says so, the machine is cleaned
            stop = "slurm-stop" if "slurm" in directory.name else "cluster-stop"
            subprocess.run([str(REPO / "Tests/TestBed" / stop), str(directory)], timeout=120)
    output = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"{name(page)}: a block failed:\n{output}"
    assert not left, f"{name(page)} leaves running: {left}"


def test_readme_is_short_and_starts_with_the_two_commands():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) < 200
    first = next(body for lang, body, _ in blocks(REPO / "README.md") if lang == "sh")
    assert [line.split()[0] for line in first.strip().splitlines()] == ["scripts/setup", "scripts/test"]
    assert "exec scripts/test" in (REPO / ".ci/run").read_text()
    assert (REPO / "docs/results/2026-12-04-xeon-16-cores/scaling.png").stat().st_size < 200_000


def slug(heading):
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_links_resolve(page):
    text = FENCE.sub("", page.read_text())
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        assert destination.exists(), f"{name(page)}: broken link {target}"
        if anchor and destination.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", FENCE.sub("", destination.read_text()), re.M)
            assert anchor in [slug(h) for h in headings], f"{name(page)}: no heading for #{anchor} in {destination.name}"


# MARK: The reference against the program's own tables

REFERENCE = REPO / "docs/reference.md"


def section(heading):
    """The reference's text under `heading` ("## Title", or its beginning), to the next heading of its level or above."""
    text = REFERENCE.read_text()
    hashes, title = heading.split(" ", 1)
    match = re.search(rf"^{hashes} {re.escape(title)}.*$", text, re.M)
    assert match, f"no section {heading!r} in the reference"
    level = len(hashes)
    end = re.search(rf"^#{{1,{level}}} ", text[match.end():], re.M)
    return text[match.end(): match.end() + end.start() if end else len(text)]


def first_column(text):
    """The backticked entries of the first column of the tables in `text`."""
    cells = [line.split("|")[1] for line in text.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    return [entry for cell in cells for entry in re.findall(r"`([^`]+)`", cell)]


def options_of_help(arguments):
    """Every option of a help text, short and long (`-n, --np <N>`: both)."""
    help_text = subprocess.run([str(MINIAPP), *arguments], capture_output=True, text=True).stdout
    found = re.findall(r"^\s+(?:(-[a-z]), )?(--[a-z0-9-]+)", help_text, re.M)
    return {option for pair in found for option in pair if option}


@pytest.mark.parametrize("command, title", [(["help", "run"], "`miniapp [run]`"), (["launch", "--help"], "`miniapp launch`"),
                                            (["bench", "--help"], "`miniapp bench`"), (["plan", "--help"], "`miniapp plan`")])
def test_the_options_are_those_of_the_help(command, title):
    documented = {entry.split()[0] for entry in first_column(section(f"### {title}"))}
    assert documented == options_of_help(command)


def test_the_exit_statuses_are_the_programs():
    source = (REPO / "Sources/MiniappCore/Support/Failure.swift").read_text()
    statuses = {int(n) for n in re.findall(r"case \w+ = (\d+)", source)}
    rows = [line.split("|")[1].strip() for line in section("## Exit statuses").splitlines()
            if line.startswith("| ") and not line.startswith("| status")]
    assert set(rows) == {str(s) for s in statuses} | {"128 + signal"}


def effective_keys(document, prefix=""):
    """The key paths of an effective input; arrays of objects as `name[].key`."""
    keys = set()
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            keys |= effective_keys(value, path + ".")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            keys.add(path)
            for element in value:
                keys |= effective_keys(element, path + "[].")
        else:
            keys.add(path)
    return keys


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Results files and checkpoints of every problem, and their effective inputs."""
    directory = tmp_path_factory.mktemp("reference")
    tea = json.loads((REPO / "inputs/tea_bm_1.json").read_text())
    tea["states"] += [{"density": 1.0, "energy": 1.0, "geometry": "circle", "xmin": 5.0, "ymin": 5.0, "radius": 1.0},
                      {"density": 2.0, "energy": 1.0, "geometry": "point", "xmin": 2.0, "ymin": 2.0}]
    tea["solver"].update({"method": "ppcg", "eps": 1e-10})
    inputs = {
        "heat": json.loads((REPO / "inputs/heat.json").read_text()),
        "gaussian": json.loads((REPO / "inputs/heat-gaussian.json").read_text()),
        "tealeaf": tea,
        "integrate": json.loads((REPO / "inputs/integrate.json").read_text()),
    }
    files = {}
    for label, document in inputs.items():
        document["output"] = {**document.get("output", {}), "path": str(directory / f"{label}.h5")}
        path = directory / f"{label}.json"
        path.write_text(json.dumps(document))
        extra = [] if label == "integrate" else ["--steps", "4", "--checkpoint-every", "2"]
        result = subprocess.run(launch(MINIAPP, 2) + ["--quiet", *extra, str(path)],
                                capture_output=True, text=True, timeout=300, cwd=directory)
        assert result.returncode == 0, result.stderr
        files[label] = directory / f"{label}.h5"
    return files


def test_the_input_keys_are_the_effective_inputs(written):
    produced = {}
    for label, path in written.items():
        with h5py.File(path) as f:
            problem = f.attrs["problem"]
            produced.setdefault(problem, set()).update(effective_keys(json.loads(f.attrs["input_json"])))
    titles = {"heat": "### `heat`", "tealeaf": "### `tealeaf` (JSON)", "integrate": "### `integrate`"}
    for problem, title in titles.items():
        documented = set(first_column(section(title))) | {"problem"}
        assert documented == produced[problem], (problem, documented ^ produced[problem])


def test_the_deck_keywords_are_the_readers():
    source = (REPO / "Sources/MiniappCore/Problems/Tealeaf/TealeafDeck.swift").read_text()
    known = set()
    for table in ("valueKeywords", "flagKeywords"):
        known |= set(re.findall(r'"(\w+)"', re.search(rf"static let {table} = \[(.*?)\]", source, re.S).group(1)))
    documented = {word for entry in first_column(section("### TeaLeaf deck keywords")) for word in entry.split(", ")}
    assert documented == known, documented ^ known


def datasets(path):
    found = []
    with h5py.File(path) as f:
        f.visititems(lambda key, item: found.append("/" + key) if isinstance(item, h5py.Dataset) else None)
    return set(found)


def documented_rows(title):
    rows = {}
    for line in section(title).splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) >= 2 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = {p.strip() for p in cells[1].split(",")}
    return rows


def test_the_datasets_are_those_the_runs_write(written):
    documented = documented_rows("### Results file: datasets")
    for label, path in written.items():
        with h5py.File(path) as f:
            problem = f.attrs["problem"]
        expected = {name for name, problems in documented.items() if problem in problems or "all" in problems}
        assert datasets(path) == expected, (label, datasets(path) ^ expected)


def test_the_attributes_are_those_the_program_writes(written):
    documented = documented_rows("### Results file: root attributes")
    for label, path in written.items():
        with h5py.File(path) as f:
            problem = f.attrs["problem"]
            for attribute in f.attrs:
                assert attribute in documented, (label, attribute)
                assert problem in documented[attribute] or "all" in documented[attribute], (label, attribute)
    source = "\n".join(p.read_text() for p in (REPO / "Sources").rglob("*.swift"))
    for attribute in documented:   # those only some runs write (a stop, a restart, a divergence) are the program's too
        assert f'"{attribute}"' in source, attribute


def test_the_phases_are_those_the_runs_time(written):
    documented = {}
    for line in section("### Phases").splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) == 2 and cells[0] in ("heat", "tealeaf", "integrate"):
            documented[cells[0]] = re.findall(r"`(\w+)`", cells[1])
    for path in written.values():
        with h5py.File(path) as f:
            names = [n.decode() for n in f["timings/phase_names"][:]]
            assert names == documented[f.attrs["problem"]]


def test_the_checkpoint_is_as_documented(written):
    text = section("### Checkpoint file")
    for label in ("heat", "tealeaf"):
        path = written[label].with_name(f"{label}.chk.h5")
        with h5py.File(path) as f:
            for attribute in f.attrs:
                assert f"`{attribute}`" in text, (label, attribute)
            for dataset in datasets(path):
                group = dataset.split("/")[1]
                assert f"`{dataset}`" in text or f"`/{group}/*`" in text, (label, dataset)


# MARK: The report package

def test_the_report_package_installs_and_every_command_has_help(tmp_path):
    environment = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(environment)], check=True)
    # From a copy: setuptools builds in the source tree.
    shutil.copytree(REPO / "tools", tmp_path / "tools", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    install = subprocess.run([str(environment / "bin/pip"), "install", "--quiet", "--no-build-isolation",
                              str(tmp_path / "tools")], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    command = environment / "bin/miniapp-report"
    top = subprocess.run([str(command), "--help"], capture_output=True, text=True)
    assert top.returncode == 0 and "usage: miniapp-report" in top.stdout
    subcommands = re.search(r"\{([a-z,]+)\}", top.stdout).group(1).split(",")
    assert sorted(subcommands) == ["field", "model", "results", "scaling", "show", "study"]
    for sub in subcommands:
        helped = subprocess.run([str(command), sub, "--help"], capture_output=True, text=True)
        assert helped.returncode == 0 and helped.stdout.startswith(f"usage: miniapp-report {sub}"), sub
    # The study's Slurm job scripts are package data: installed with it.
    located = subprocess.run([str(environment / "bin/python"), "-c", "from miniapp_report import study; "
                              "print(*sorted(p.name for p in study.TEMPLATES.iterdir()))"],
                             capture_output=True, text=True, cwd=tmp_path)
    assert located.stdout.split() == ["scaling-report.slurm", "scaling-task.slurm"], located.stdout + located.stderr


def test_a_results_page_from_the_session_bench(quick_bench, tmp_path):
    page = tmp_path / "page.md"
    result = subprocess.run([str(REPO / "tools/miniapp-report"), "results", str(quick_bench), "--date", "2026-12-03",
                             "--out", str(page)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    for heading in ["# Results:", "## 1. Memory bandwidth", "## 2. Heat kernel", "## 3. Thread pool",
                    "## 4-6. MPI between 2 ranks"]:
        assert heading in text, heading
    assert "(2026-12-03)" in text


def test_the_licence_and_the_citation():
    """BSD-3-Clause, the authors named; CITATION.cff carries the program's own version; the README names both."""
    licence = (REPO / "LICENSE").read_text()
    assert licence.startswith("BSD 3-Clause License") and "Copyright (c) 2026, the miniapp authors" in licence
    version = subprocess.run([str(MINIAPP), "--version"], capture_output=True, text=True).stdout.split()[1]
    citation = (REPO / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in citation and f'version: "{version}"' in citation
    assert "license: BSD-3-Clause" in citation and 'name: "the miniapp authors"' in citation
    readme = (REPO / "README.md").read_text()
    assert "](LICENSE)" in readme and "](CITATION.cff)" in readme


C_MODULES = {"CMPI", "CHDF5", "CMiniappLinux", "CBuildInfo", "CKernelShims"}
# What each layer may import besides the standard library, lowest first (docs/developer.md, "Architecture by module").
LAYERS = {
    "Kernels": {"CKernelShims", "Glibc"},
    "ThreadPool": {"CMiniappLinux", "Glibc", "Synchronization", "Foundation"},
    "Platform": {"CMiniappLinux", "CBuildInfo"},
    "MPI": {"CMPI", "Glibc", "Foundation", "Synchronization"},
    "HDF5": {"CHDF5", "CMPI", "MPI", "Glibc", "Foundation"},
    "Launch": {"MPI", "Glibc", "Foundation"},
}


def imports_of(target):
    found = {}
    for source in (REPO / "Sources" / target).rglob("*.swift"):
        for module in re.findall(r"^import (\w+)", source.read_text(), re.M):
            found.setdefault(module, source.relative_to(REPO))
    return found


def test_the_layers_import_downwards():
    """The lower layers import only what lies below them, and the core and the
    command line no C module: C comes in through the thin Swift wrappers."""
    for target, allowed in LAYERS.items():
        extra = {m: f for m, f in imports_of(target).items() if m not in allowed}
        assert not extra, f"{target} imports {extra}"
    for target in ["MiniappCore", "Bench", "miniapp"]:
        c = {m: f for m, f in imports_of(target).items() if m in C_MODULES}
        assert not c, f"{target} imports C modules: {c}"
    assert "Kernels" not in imports_of("ThreadPool") and "MiniappCore" not in imports_of("Kernels")
    # The bench sits on the core, beside the command line: the core never calls it.
    assert "Bench" not in imports_of("MiniappCore") and "MiniappCore" in imports_of("Bench")


# MiniappCore's folders, lowest first (docs/developer.md): each uses only the names of those before it.
CORE_FOLDERS = ["Support", "Input", "Decomposition", "Grid", "Run", "Output", "Problems"]


def test_the_core_folders_depend_downwards():
    core = REPO / "Sources/MiniappCore"
    assert sorted(p.name for p in core.iterdir() if p.is_dir()) == sorted(CORE_FOLDERS)
    declaration = re.compile(r"^(?:(?:public|private|fileprivate|internal|final|@\w+)\s+)*"
                             r"(?:struct|enum|class|protocol|typealias|actor|func)\s+(\w+)", re.M)
    declared = {}
    for folder in CORE_FOLDERS:
        for source in (core / folder).rglob("*.swift"):
            for name in declaration.findall(source.read_text()):
                declared.setdefault(name, folder)
    upward = []
    for rank, folder in enumerate(CORE_FOLDERS):
        higher = {name for name, where in declared.items() if CORE_FOLDERS.index(where) > rank}
        for source in (core / folder).rglob("*.swift"):
            code = re.sub(r'"[^"\n]*"', "", re.sub(r"//.*", "", source.read_text()))
            used = higher & set(re.findall(r"\b\w+\b", code))
            upward += [f"{source.relative_to(core)} uses {name} ({declared[name]})" for name in sorted(used)]
    assert not upward, upward
