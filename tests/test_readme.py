"""The README's commands are the ones CI runs."""

from tests.conftest import REPOSITORY


def test_ci_runs_readme_test_commands():
    readme = (REPOSITORY / "README.md").read_text()
    ci_lines = (REPOSITORY / ".ci" / "run").read_text().splitlines()
    commands = ci_lines[ci_lines.index(next(line for line in ci_lines if "README's" in line)) + 1 :]
    commands = [line for line in commands if line.strip()]
    assert commands, "no commands after the README comment in .ci/run"
    for command in commands:
        assert command in readme, command
