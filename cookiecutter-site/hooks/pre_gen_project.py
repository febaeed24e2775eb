"""Check the answers before anything is written."""

import re
import sys

NAME = {{ cookiecutter.site_name | tojson }}
SLUG = "{{ cookiecutter.project_slug }}"
CURRENCY = "{{ cookiecutter.currency }}"

problems = []
if not NAME.strip() or any(c in NAME for c in '"\\') or not NAME.isprintable():
    problems.append(f"site_name {NAME!r}: give a name without double quotes, backslashes or control characters")
if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", SLUG):
    problems.append(
        f"project_slug {SLUG!r}: use lower-case letters, digits and single dashes, starting with a letter "
        "(it names the folder and the Python distribution)"
    )
if not re.fullmatch(r"[A-Z]{3}", CURRENCY):
    problems.append(f"currency {CURRENCY!r}: give an ISO 4217 code in capitals, e.g. USD, EUR, GBP")
if problems:
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    sys.exit(1)
