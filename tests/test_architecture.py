"""The package's architecture contracts (.importlinter) hold: layers, no cycles.

The same check runs as ``lint-imports`` in ``make lint``; here it also guards
``make test``.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if not (ROOT / ".importlinter").is_file():
    # tox's dist env runs a copy of tests/ against the installed wheel, without
    # the source tree (and its contracts) beside it.
    pytest.skip("no .importlinter beside tests/ here", allow_module_level=True)


def test_import_contracts_are_kept(capsys, monkeypatch):
    from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

    monkeypatch.chdir(ROOT)
    status = lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True)
    report = capsys.readouterr().out
    if status != EXIT_STATUS_SUCCESS:
        pytest.fail("Broken import contracts:\n" + report.split("Broken contracts")[-1])
    assert "BROKEN" not in report
