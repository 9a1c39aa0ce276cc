"""Every number of every command is checked at the door: a table of cases generated from the
command table, each value just outside its option's range (zero, negative, huge, NaN), must
end in one `gankit: error:` line naming the flag and exit code 1, fast, before any work."""

from __future__ import annotations

import dataclasses
import signal

import pytest

from gankit.cli import COMMANDS, main
from gankit.options import flag_name, has_range, scalar_type

# what the positional and required options of a command get: never read, since a number out
# of range stops the command first
PLACEHOLDERS = {"run_dir": "nowhere", "classifier_run": "nowhere",
                "classifier_config": "nowhere", "gan": "nowhere"}


def _numeric_fields():
    for command in COMMANDS:
        classes = [*command.options, *([command.overrides] if command.overrides else [])]
        for cls in classes:
            for f in dataclasses.fields(cls):
                if f.name in command.skip:
                    continue
                kind = scalar_type(cls, f.name)
                if kind in (int, float):
                    yield command, cls, f, kind


def _bad_values(f: dataclasses.Field, kind: type) -> list[str]:
    m, values = f.metadata, []
    if m.get("low") is not None:
        values.append(m["low"] - 1)
    if m.get("above") is not None:
        values.append(m["above"])
    if m.get("high") is not None:
        values.append(10 * m["high"] + 1)
    if m.get("below") is not None:
        values.append(m["below"])
    values = [str(int(v)) if kind is int else repr(float(v)) for v in values]
    return values + (["nan"] if kind is float else [])


def _argv(command, flag: str, value: str) -> list[str]:
    argv = command.name.split(" ")
    for cls in command.options:
        for f in dataclasses.fields(cls):
            if f.name in command.skip:
                continue
            if f.metadata.get("positional"):
                argv.append(PLACEHOLDERS[f.name])
            elif f.default is dataclasses.MISSING:
                argv += [flag_name(f), PLACEHOLDERS[f.name]]
    return [*argv, f"{flag}={value}"]


CASES = [pytest.param(_argv(command, flag_name(f), value), flag_name(f),
                      id=f"{command.name}{flag_name(f)}={value}")
         for command, _, f, kind in _numeric_fields() for value in _bad_values(f, kind)]


def test_every_number_of_every_command_has_a_range():
    unbounded = [f"{command.name} {flag_name(f)}" for command, _, f, _ in _numeric_fields()
                 if not all(has_range(f))]
    assert not unbounded, f"options without a lower and an upper bound: {unbounded}"
    assert len(CASES) > 200  # the table really walks the commands


def _timeout(signum, frame):
    raise TimeoutError("a refused value must fail at once")


@pytest.mark.parametrize("argv, flag", CASES)
def test_a_number_out_of_range_gets_one_line(argv, flag, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # whatever a case might write lands here, and must not
    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(20)
    try:
        code = main(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("gankit: error: ") and err.count("\n") == 1, err
    assert flag in err
    assert not any(tmp_path.iterdir())  # refused before anything was written
