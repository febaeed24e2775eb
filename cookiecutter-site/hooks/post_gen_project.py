"""Remove what the answers turned off, and the bytecode an installed template carries."""

import shutil
from pathlib import Path

STOREFRONT = {{ cookiecutter.storefront }}
GIGS = {{ cookiecutter.gigs }}
EXAMPLE_PLUGINS = {{ cookiecutter.example_plugins }}

project = Path.cwd()
remove = []
if STOREFRONT and not GIGS:
    print("The storefront starter sells gigs, which are off: it is left out.")
if not (STOREFRONT and GIGS):
    remove += [project / "site_plugins" / "storefront", *project.glob("tests/test_storefront*.py")]
if not EXAMPLE_PLUGINS:
    remove += [
        project / "site_plugins" / "category_fee.py",
        project / "site_plugins" / "store_credit.py",
        project / "tests" / "test_category_fee.py",
        project / "tests" / "test_store_credit.py",
    ]
# pip compiles the template's Python files where agorakit is installed
remove += list(project.rglob("__pycache__"))
for path in remove:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
