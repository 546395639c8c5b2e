"""What a command may read of the world it runs in, as one object that tests replace.

Commands take the environment variables, the working directory, the output streams and "is
this a terminal" from here, never from os/sys directly, so a test runs any command with the
environment and streams it wants (click's CliRunner with `obj=Environment(...)`).
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, TextIO

import click

from grader.core.text import printable


@dataclass
class Environment:
    env: Mapping[str, str]
    cwd: Path
    stdout: TextIO
    stderr: TextIO
    stdout_is_terminal: bool = False
    stderr_is_terminal: bool = False
    columns: int = 100

    @classmethod
    def current(cls) -> "Environment":
        """The real one: this process's environment and streams."""
        return cls(env=os.environ, cwd=Path.cwd(), stdout=sys.stdout, stderr=sys.stderr,
                   stdout_is_terminal=sys.stdout.isatty(), stderr_is_terminal=sys.stderr.isatty(),
                   columns=shutil.get_terminal_size((100, 24)).columns)

    def out(self, text: str = "", nl: bool = True) -> None:
        """What a command prints; colour is the renderer's decision (made from this object),
        so click must not strip it again."""
        click.echo(text, file=self.stdout, nl=nl, color=True)

    def err(self, text: str) -> None:
        """One message for the user on stderr; text from hosts in it is made printable."""
        click.echo(printable(text), file=self.stderr)


def current() -> Environment:
    """The Environment of the running command: click's `obj` when a test set one, else the real one."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    if root is not None and isinstance(root.obj, Environment):
        return root.obj
    env = Environment.current()
    if root is not None:
        root.obj = env
    return env
