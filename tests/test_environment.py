"""requirements.txt and environment.yml say the same versions; the set-up files say what the README says."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^\s*-?\s*([A-Za-z0-9_.\-\[\]]+)==([^\s#]+)\s*$")
TOP_LEVEL = ["torch", "numpy", "matplotlib", "jupyterlab", "notebook", "nbgrader", "nbval", "pytest"]


def pins(path):
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_environment_yml_pins_the_versions_of_requirements_txt():
    requirements, conda = pins(ROOT / "requirements.txt"), pins(ROOT / "environment.yml")
    assert set(TOP_LEVEL) <= set(conda)
    for name, version in conda.items():
        assert requirements.get(name) == version, (
            f"{name}: environment.yml {version}, requirements.txt {requirements.get(name)}"
        )


def test_requirements_pin_every_package_and_the_cpu_torch():
    lines = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all("==" in line for line in lines), [line for line in lines if "==" not in line]
    assert pins(ROOT / "requirements.txt")["torch"] == "2.13.0"
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test" in readme and "make lab" in readme
    ci = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "set ", "cd "))
    ]
    assert ci == ["make system-packages", "make test"]
    assert "make system-packages" in readme


def test_class_hub_pins_the_versions_of_requirements_txt():
    """deploy/jupyterhub/requirements.txt (Debian's Python 3.11.2) differs only where a package needs 3.11.5."""
    course, hub = pins(ROOT / "requirements.txt"), pins(ROOT / "deploy" / "jupyterhub" / "requirements.txt")
    assert set(course) == set(hub)
    assert {name for name in course if course[name] != hub[name]} == {"soupsieve"}
