"""Every hook call goes through the runtime's facade (``agorakit.hooks.Hooks``)."""

import re
from pathlib import Path

import agorakit
import agorakit.plugins

#: ``pm.hook.<name>`` or ``.pm.hook.<name>``: pluggy's caller, used directly
DIRECT_CALL = re.compile(r"\bpm\.hook\.")


def _modules() -> list[Path]:
    roots = [Path(agorakit.__file__).parent, Path(agorakit.plugins.__file__).parent]
    return sorted(
        path for root in roots for path in root.rglob("*.py") if "piccolo_migrations" not in path.parts
    )


def test_no_module_calls_pluggy_hooks_directly():
    hooks_module = Path(agorakit.__file__).parent / "hooks.py"
    modules = _modules()
    assert hooks_module in modules
    assert any("plugins" in path.parts for path in modules)
    offenders = [
        f"{path.name}:{number}: {line.strip()}"
        for path in modules
        if path != hooks_module
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if DIRECT_CALL.search(line)
    ]
    assert offenders == []


def test_the_check_finds_a_direct_call():
    assert DIRECT_CALL.search("results = runtime.pm.hook.agorakit_routes()")
    assert DIRECT_CALL.search("pm.hook.agorakit_cli(cli=cli)")
    assert not DIRECT_CALL.search('runtime.hooks.collect_sync("agorakit_routes")')
