"""``agorakit new``: a new site project rendered from the site template.

The template is the cookiecutter template ``cookiecutter-site/`` of the repository; the
wheel ships it as ``agorakit/site_template/``.  ``cookiecutter path/to/cookiecutter-site``
renders the same project: this module only finds the template, checks the answers given
on the command line and refuses to write into a folder that holds files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["SiteGenError", "new_site", "parse_answers", "template_dir", "template_prompts"]

_HERE = Path(__file__).resolve().parent


class SiteGenError(Exception):
    """A new site could not be written; the message says why."""


def template_dir() -> Path:
    """The site template: inside the installed package, or the checkout's folder."""
    for candidate in (_HERE / "site_template", _HERE.parent / "cookiecutter-site"):
        if (candidate / "cookiecutter.json").is_file():
            return candidate
    message = f"the site template is missing from this installation of agorakit ({_HERE})"
    raise SiteGenError(message)


def template_prompts() -> dict[str, Any]:
    """The template's questions and their defaults (``cookiecutter.json`` without its
    private keys)."""
    data = json.loads((template_dir() / "cookiecutter.json").read_text(encoding="utf-8"))
    return {key: value for key, value in data.items() if not key.startswith("_")}


_YES = {"y", "yes", "true", "1", "on"}
_NO = {"n", "no", "false", "0", "off"}


def parse_answers(pairs: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["gigs=no", "database=postgresql"]`` as cookiecutter answers, each checked
    against the template's questions: a known name, a yes/no for a yes/no question, one of
    the choices for a choice."""
    prompts = template_prompts()
    answers: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SiteGenError(f"--set {pair!r}: write it as NAME=VALUE, e.g. --set gigs=no")
        if key not in prompts:
            known = ", ".join(sorted(prompts))
            raise SiteGenError(f"--set {key}: the template has no question {key!r}; its questions: {known}")
        default = prompts[key]
        if isinstance(default, bool):
            if value.strip().lower() not in _YES | _NO:
                raise SiteGenError(f"--set {key}={value}: answer yes or no")
            answers[key] = value.strip().lower() in _YES
        elif isinstance(default, list):
            if value not in default:
                choices = ", ".join(map(str, default))
                raise SiteGenError(f"--set {key}={value}: choose one of {choices}")
            answers[key] = value
        else:
            answers[key] = value
    return answers


def new_site(directory: Path | None, *, answers: dict[str, Any], no_input: bool) -> Path:
    """Render the template; returns the project's folder.

    ``directory`` is the folder to create (its name becomes the project's slug unless
    ``answers`` names one); None: a folder named after the slug in the current one.  A
    folder that exists and holds anything is refused, whatever its name came from.
    """
    from cookiecutter.exceptions import CookiecutterException, OutputDirExistsException
    from cookiecutter.main import cookiecutter

    context = dict(answers)
    output_dir = Path.cwd()
    emptied: Path | None = None
    if directory is not None:
        target = directory.resolve()
        context.setdefault("project_slug", target.name)
        output_dir = target.parent
        _refuse_if_not_empty(target)
        # An empty folder is removed first, so that cookiecutter never overwrites anything
        # (it refuses a folder that exists, e.g. when the slug changed at its prompt).
        if target.is_dir():
            target.rmdir()
            emptied = target
    try:
        written = cookiecutter(
            str(template_dir()), no_input=no_input, extra_context=context, output_dir=str(output_dir)
        )
    except OutputDirExistsException as exc:
        raise SiteGenError(f"{exc}: choose another name, or empty or remove that folder") from None
    except (CookiecutterException, ValueError) as exc:
        raise SiteGenError(str(exc)) from None
    finally:
        if emptied is not None and not emptied.exists():
            emptied.mkdir()
    return Path(written)


def _refuse_if_not_empty(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise SiteGenError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        message = (
            f"{folder} already exists and is not empty; agorakit new writes only into a new or empty folder"
        )
        raise SiteGenError(message)
